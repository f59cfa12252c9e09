//! Resource discovery, RFC 6690: the links of /.well-known/core in CoRE
//! link-format (§5), and query filtering of them (§4.1).

use std::fmt::Write as _;

use crate::runtime::bindings::types::{LinkAttribute, ResourceDescription};

/// The well-known discovery path (RFC 6690 §4).
pub const WELL_KNOWN_CORE: &str = "/.well-known/core";

/// application/link-format (RFC 6690 §7.3, RFC 7252 §12.3).
pub const LINK_FORMAT: u16 = 40;

/// One resource's link: its target and its target attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    href: String,
    attributes: Vec<(String, Option<String>)>,
    rendered: String,
}

impl Link {
    /// The link for a resource, with `ct` and `obs` written from its
    /// description (RFC 7252 §7.2.1, RFC 7641 §6).
    pub fn for_resource(resource: &ResourceDescription) -> Link {
        Link::new(&resource.path, resource, &[])
    }

    /// The link of the member at `path` of a collection whose members
    /// `members` describes, with the member's own `attributes` after the
    /// description's.
    pub fn for_member(
        path: &str,
        members: &ResourceDescription,
        attributes: &[LinkAttribute],
    ) -> Link {
        Link::new(path, members, attributes)
    }

    fn new(href: &str, resource: &ResourceDescription, own: &[LinkAttribute]) -> Link {
        let mut attributes: Vec<(String, Option<String>)> = Vec::new();
        for attribute in resource.attributes.iter().chain(own) {
            if attribute.name == "ct" || attribute.name == "obs" {
                continue;
            }
            let earlier = attributes
                .iter_mut()
                .find(|(name, _)| *name == attribute.name);
            match (earlier, &attribute.value) {
                // §3.1-§3.2: `rt` and `if` appear once, as a space-separated
                // list; a member's own values join its collection's.
                (Some((name, Some(values))), Some(value)) if name == "rt" || name == "if" => {
                    if !values.split(' ').any(|v| v == value) {
                        values.push(' ');
                        values.push_str(value);
                    }
                }
                (Some((_, earlier)), value) => *earlier = value.clone(),
                (None, value) => attributes.push((attribute.name.clone(), value.clone())),
            }
        }
        if !resource.content_formats.is_empty() {
            let formats: Vec<String> = resource
                .content_formats
                .iter()
                .map(u16::to_string)
                .collect();
            attributes.insert(0, ("ct".to_owned(), Some(formats.join(" "))));
        }
        if resource.observable {
            attributes.push(("obs".to_owned(), None));
        }
        let rendered = render(href, &attributes);
        Link {
            href: href.to_owned(),
            attributes,
            rendered,
        }
    }

    /// The link's target, the resource's path.
    pub fn href(&self) -> &str {
        &self.href
    }

    /// The link in link-format.
    pub fn as_str(&self) -> &str {
        &self.rendered
    }

    /// Whether the link passes every filter in the query (§4.1): `href` or an
    /// attribute name, `=`, and a value that may end in `*` for a prefix
    /// match. A space-separated attribute value (such as `rt`) matches if any
    /// of its values does. A name without `=` asks for the attribute to be there.
    pub fn matches(&self, query: &[String]) -> bool {
        query.iter().all(|item| self.matches_one(item))
    }

    fn matches_one(&self, item: &str) -> bool {
        let Some((name, pattern)) = item.split_once('=') else {
            return self.attributes.iter().any(|(n, _)| n == item);
        };
        if name == "href" {
            return pattern_matches(pattern, &self.href);
        }
        self.attributes
            .iter()
            .filter(|(n, _)| n == name)
            .any(|(_, value)| match value {
                Some(value) => value.split(' ').any(|word| pattern_matches(pattern, word)),
                None => pattern.is_empty(),
            })
    }
}

fn pattern_matches(pattern: &str, value: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => value.starts_with(prefix),
        None => value == pattern,
    }
}

/// The links, comma-separated (§2), of those that pass the filter.
pub fn document<'a>(links: impl IntoIterator<Item = &'a Link>, query: &[String]) -> String {
    let mut out = String::new();
    for link in links.into_iter().filter(|link| link.matches(query)) {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(link.as_str());
    }
    out
}

/// `<href>;name=value;...` with values quoted unless they are a plain number
/// (RFC 6690 §2: `sz` and a single `ct` are cardinals, the rest quoted-strings).
fn render(href: &str, attributes: &[(String, Option<String>)]) -> String {
    let mut out = format!("<{href}>");
    for (name, value) in attributes {
        match value {
            None => {
                let _ = write!(out, ";{name}");
            }
            Some(v) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
                let _ = write!(out, ";{name}={v}");
            }
            Some(v) => {
                let escaped = v.replace('\\', "\\\\").replace('"', "\\\"");
                let _ = write!(out, ";{name}=\"{escaped}\"");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::bindings::types::{LinkAttribute, Methods};

    fn led() -> Link {
        Link::for_resource(&ResourceDescription {
            path: "/led".to_owned(),
            methods: Methods::GET | Methods::PUT,
            observable: true,
            content_formats: vec![50],
            sample_interval_ms: None,
            attributes: vec![
                LinkAttribute {
                    name: "rt".to_owned(),
                    value: Some("light core.a".to_owned()),
                },
                LinkAttribute {
                    name: "title".to_owned(),
                    value: Some("The \"LED\"".to_owned()),
                },
            ],
        })
    }

    fn q(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn renders_link_format() {
        assert_eq!(
            led().as_str(),
            r#"</led>;ct=50;rt="light core.a";title="The \"LED\"";obs"#
        );
    }

    #[test]
    fn several_content_formats_are_a_quoted_list() {
        let link = Link::for_resource(&ResourceDescription {
            path: "/t".to_owned(),
            methods: Methods::GET,
            observable: false,
            content_formats: vec![50, 0],
            sample_interval_ms: None,
            attributes: vec![],
        });
        assert_eq!(link.as_str(), r#"</t>;ct="50 0""#);
        assert!(link.matches(&q(&["ct=0"])));
    }

    #[test]
    fn filters_as_rfc_6690_section_4_1_says() {
        let led = led();
        assert!(led.matches(&q(&[])));
        assert!(led.matches(&q(&["rt=light"])));
        assert!(led.matches(&q(&["rt=core.a"])));
        assert!(led.matches(&q(&["rt=li*"])));
        assert!(!led.matches(&q(&["rt=lig"])));
        assert!(led.matches(&q(&["href=/led"])));
        assert!(led.matches(&q(&["href=/l*"])));
        assert!(!led.matches(&q(&["href=/temp*"])));
        assert!(led.matches(&q(&["obs"])));
        assert!(led.matches(&q(&["ct=50"])));
        assert!(!led.matches(&q(&["if=sensor"])));
        assert!(!led.matches(&q(&["rt=light", "ct=0"])));
    }

    #[test]
    fn a_member_joins_its_collections_rt_and_if_and_replaces_the_rest() {
        let attribute = |name: &str, value: &str| LinkAttribute {
            name: name.to_owned(),
            value: Some(value.to_owned()),
        };
        let members = ResourceDescription {
            path: "/sensors/*".to_owned(),
            methods: Methods::GET,
            observable: true,
            content_formats: vec![50],
            sample_interval_ms: None,
            attributes: vec![attribute("rt", "sensor"), attribute("title", "A sensor")],
        };
        let own = [
            attribute("rt", "humidity"),
            attribute("rt", "sensor"),
            attribute("if", "core.s"),
            attribute("title", "Kitchen"),
            attribute("ct", "0"),
        ];
        let link = Link::for_member("/sensors/3", &members, &own);
        assert_eq!(
            link.as_str(),
            r#"</sensors/3>;ct=50;rt="sensor humidity";title="Kitchen";if="core.s";obs"#
        );
        assert!(link.matches(&q(&["rt=humidity"])));
        assert!(link.matches(&q(&["href=/sensors/*"])));
    }

    #[test]
    fn document_joins_matching_links() {
        let links = [led(), led()];
        assert_eq!(document(&links, &q(&["rt=x"])), "");
        assert_eq!(document(&links, &[]).matches("</led>").count(), 2);
    }
}
