//! `collection`: a plugin lists the members of its collections for
//! /.well-known/core ([`MemberListing`](crate::runtime::member_listing)).

use crate::runtime::bindings::collection::{Host, ListingError};
use crate::runtime::bindings::types::LinkAttribute;
use crate::runtime::member_listing::ListingError as Refused;
use crate::runtime::state::PluginState;

impl Host for PluginState {
    fn list_member(
        &mut self,
        path: String,
        attributes: Vec<LinkAttribute>,
    ) -> Result<(), ListingError> {
        // A plugin without collections has no member to list.
        let Some(members) = &self.members else {
            return Err(ListingError::NotAMember);
        };
        members
            .list(&path, attributes)
            .map_err(|refused| match refused {
                Refused::NotAMember => ListingError::NotAMember,
                Refused::TooMany => ListingError::TooMany,
                Refused::TooLarge => ListingError::TooLarge,
                Refused::Storage(reason) => {
                    tracing::warn!(
                        plugin = &*self.name,
                        path,
                        "cannot list the member: {reason}"
                    );
                    ListingError::Storage
                }
            })
    }

    fn unlist_member(&mut self, path: String) -> bool {
        self.members.as_ref().is_some_and(|m| m.unlist(&path))
    }

    fn listed_members(&mut self) -> Vec<String> {
        self.members.as_ref().map_or_else(Vec::new, |m| m.listed())
    }
}
