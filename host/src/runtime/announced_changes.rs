//! The changes one call into a plugin announced through `observe.changed`
//! (RFC 7641 §4.2), gathered while the call runs and published once it
//! returns: a plugin that calls `changed` a million times in one call causes
//! one notification, and costs the host a flag per call, not an event.

use crate::collection;

/// Different members of a plugin's collections one call may announce; past
/// it, announcements of further members are ignored (and counted), so that
/// a call cannot make the host hold a path per `changed`.
pub const MAX_MEMBERS_PER_CALL: usize = 64;

/// Per path of the plugin's, whether the current call announced a change
/// (and whether any announcement was important); the same for members of its
/// collections, up to [`MAX_MEMBERS_PER_CALL`]; plus the path the call is
/// rendering for observers, whose own announcements are ignored.
#[derive(Debug, Default)]
pub struct AnnouncedChanges {
    // Indexed like the plugin's paths; None: not announced.
    by_path: Vec<Option<bool>>,
    members: Vec<(String, bool)>,
    // The path being rendered for its observers: a GET that announces a
    // change of what it is rendering would otherwise start the next
    // rendering, for ever.
    rendering: Option<usize>,
    rendering_member: Option<String>,
    // Announcements of paths not the plugin's own, or of members past the
    // limit, ignored.
    ignored: u32,
}

impl AnnouncedChanges {
    /// Starts a call that may announce changes of `paths` (the plugin's),
    /// rendering `rendering` for observers if it is such a call.
    pub fn start(&mut self, paths: &[String], rendering: Option<&str>) {
        self.by_path.clear();
        self.by_path.resize(paths.len(), None);
        self.members.clear();
        self.rendering = None;
        self.rendering_member = None;
        if let Some(path) = rendering {
            match paths.iter().position(|p| p == path) {
                Some(index) => self.rendering = Some(index),
                None => self.rendering_member = Some(path.to_owned()),
            }
        }
        self.ignored = 0;
    }

    /// Records that the call announced a change of `path`.
    pub fn announce(&mut self, paths: &[String], path: &str, important: bool) {
        let Some(index) = paths.iter().position(|p| p == path) else {
            self.announce_member(paths, path, important);
            return;
        };
        if self.rendering == Some(index) {
            return;
        }
        if let Some(slot) = self.by_path.get_mut(index) {
            *slot = Some(slot.unwrap_or(false) || important);
        }
    }

    fn announce_member(&mut self, paths: &[String], path: &str, important: bool) {
        let own_member = paths.iter().any(|p| {
            collection::prefix_of(p).is_some_and(|prefix| collection::is_member(prefix, path))
        });
        if !own_member {
            self.ignored = self.ignored.saturating_add(1);
            return;
        }
        if self.rendering_member.as_deref() == Some(path) {
            return;
        }
        if let Some((_, slot)) = self.members.iter_mut().find(|(p, _)| p == path) {
            *slot |= important;
        } else if self.members.len() < MAX_MEMBERS_PER_CALL {
            self.members.push((path.to_owned(), important));
        } else {
            self.ignored = self.ignored.saturating_add(1);
        }
    }

    /// The announced changes of the call that ended, each path once, with
    /// the number of announcements ignored (of other plugins' paths, or of
    /// members past the limit).
    pub fn take(&mut self, paths: &[String]) -> (Vec<(String, bool)>, u32) {
        let ignored = std::mem::take(&mut self.ignored);
        self.rendering = None;
        self.rendering_member = None;
        let mut announced: Vec<(String, bool)> = self
            .by_path
            .iter_mut()
            .zip(paths)
            .filter_map(|(slot, path)| slot.take().map(|important| (path.clone(), important)))
            .collect();
        announced.append(&mut self.members);
        (announced, ignored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> Vec<String> {
        vec!["/a".to_owned(), "/b".to_owned()]
    }

    #[test]
    fn many_announcements_of_a_path_are_one_and_importance_is_kept() {
        let paths = paths();
        let mut changes = AnnouncedChanges::default();
        changes.start(&paths, None);
        for i in 0..1000 {
            changes.announce(&paths, "/a", i == 3);
        }
        changes.announce(&paths, "/elsewhere", true);
        let (announced, foreign) = changes.take(&paths);
        assert_eq!(announced, vec![("/a".to_owned(), true)]);
        assert_eq!(foreign, 1);
        let (announced, foreign) = changes.take(&paths);
        assert!(announced.is_empty());
        assert_eq!(foreign, 0);
    }

    #[test]
    fn the_path_being_rendered_is_not_announced_by_its_own_rendering() {
        let paths = paths();
        let mut changes = AnnouncedChanges::default();
        changes.start(&paths, Some("/a"));
        changes.announce(&paths, "/a", true);
        changes.announce(&paths, "/b", false);
        let (announced, _) = changes.take(&paths);
        assert_eq!(announced, vec![("/b".to_owned(), false)]);
        // The next call is not a rendering.
        changes.start(&paths, None);
        changes.announce(&paths, "/a", false);
        let (announced, _) = changes.take(&paths);
        assert_eq!(announced, vec![("/a".to_owned(), false)]);
    }

    #[test]
    fn members_of_own_collections_are_announced_within_a_bound() {
        let paths = vec!["/sensors".to_owned(), "/sensors/*".to_owned()];
        let mut changes = AnnouncedChanges::default();
        changes.start(&paths, Some("/sensors/1"));
        changes.announce(&paths, "/sensors/1", true);
        changes.announce(&paths, "/other/1", true);
        for round in 0..3 {
            for i in 2..1000 {
                changes.announce(&paths, &format!("/sensors/{i}"), round == 1 && i == 2);
            }
        }
        let (announced, ignored) = changes.take(&paths);
        assert_eq!(announced.len(), MAX_MEMBERS_PER_CALL);
        assert_eq!(announced[0], ("/sensors/2".to_owned(), true));
        assert_eq!(ignored as usize, 1 + 3 * (998 - MAX_MEMBERS_PER_CALL));
    }
}
