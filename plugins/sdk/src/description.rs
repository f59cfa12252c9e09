//! Builders for what a plugin tells the host about itself at load time.

use crate::{ContentFormat, LinkAttribute, Methods, PluginDescription, ResourceDescription};

impl PluginDescription {
    /// A plugin named `name` (its key-value namespace: keep it stable across
    /// versions) at `version`, serving no resource yet; add them with
    /// [`resource`](Self::resource).
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> PluginDescription {
        PluginDescription {
            name: name.into(),
            version: version.into(),
            resources: Vec::new(),
        }
    }

    /// Adds a resource the plugin serves.
    pub fn resource(mut self, resource: ResourceDescription) -> PluginDescription {
        self.resources.push(resource);
        self
    }
}

impl ResourceDescription {
    /// The resource at `path` (such as `/led`) accepting `methods`; not
    /// observable, no declared Content-Format (the host does not check
    /// Accept), no link attributes, not sampled.
    pub fn new(path: impl Into<String>, methods: Methods) -> ResourceDescription {
        ResourceDescription {
            path: path.into(),
            methods,
            observable: false,
            content_formats: Vec::new(),
            attributes: Vec::new(),
            sample_interval_ms: None,
        }
    }

    /// The members of the collection at `collection` (such as `/sensors`),
    /// accepting `methods`: every path below it reaches the plugin
    /// ([`collection`](crate::collection)). The same as
    /// `ResourceDescription::new("/sensors/*", methods)`.
    pub fn members_of(collection: &str, methods: Methods) -> ResourceDescription {
        ResourceDescription::new(format!("{}/*", collection.trim_end_matches('/')), methods)
    }

    /// Lets clients observe the resource (RFC 7641; `obs` in
    /// `/.well-known/core`).
    pub fn observable(mut self) -> ResourceDescription {
        self.observable = true;
        self
    }

    /// Adds a Content-Format the resource answers with; the first one added
    /// is its default. Once any is declared, the host answers 4.06 to an
    /// Accept naming another (RFC 7252 §5.10.4). Shown as `ct`.
    pub fn content_format(mut self, format: ContentFormat) -> ResourceDescription {
        self.content_formats.push(format);
        self
    }

    /// Makes the resource observable and has the host call
    /// [`Plugin::sample`](crate::Plugin::sample) for it every
    /// `interval_ms` milliseconds.
    pub fn sample_interval_ms(mut self, interval_ms: u32) -> ResourceDescription {
        self.observable = true;
        self.sample_interval_ms = Some(interval_ms);
        self
    }

    /// Adds the link attribute `name="value"` (RFC 6690 §3).
    pub fn attribute(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> ResourceDescription {
        self.attributes.push(LinkAttribute::new(name, value));
        self
    }

    /// Adds the resource type, `rt` (RFC 6690 §3.1).
    pub fn resource_type(self, rt: impl Into<String>) -> ResourceDescription {
        self.attribute("rt", rt)
    }

    /// Adds the interface description, `if` (RFC 6690 §3.2).
    pub fn interface(self, interface: impl Into<String>) -> ResourceDescription {
        self.attribute("if", interface)
    }

    /// Adds the human-readable `title` (RFC 6690 §2).
    pub fn title(self, title: impl Into<String>) -> ResourceDescription {
        self.attribute("title", title)
    }
}

impl LinkAttribute {
    /// The attribute `name="value"`.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> LinkAttribute {
        LinkAttribute {
            name: name.into(),
            value: Some(value.into()),
        }
    }

    /// The attribute `name` without a value, such as a flag.
    pub fn flag(name: impl Into<String>) -> LinkAttribute {
        LinkAttribute {
            name: name.into(),
            value: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content_format::{JSON, TEXT_PLAIN};

    #[test]
    fn a_resource_defaults_to_the_least() {
        let resource = ResourceDescription::new("/a", Methods::GET);
        assert_eq!(resource.path, "/a");
        assert_eq!(resource.methods, Methods::GET);
        assert!(!resource.observable);
        assert!(resource.content_formats.is_empty());
        assert!(resource.attributes.is_empty());
        assert_eq!(resource.sample_interval_ms, None);
    }

    #[test]
    fn builds_a_resource_in_order() {
        let resource = ResourceDescription::new("/led", Methods::GET | Methods::PUT)
            .observable()
            .content_format(JSON)
            .content_format(TEXT_PLAIN)
            .resource_type("light")
            .interface("actuator")
            .title("LED")
            .attribute("sz", "16");
        assert!(resource.observable);
        assert_eq!(resource.content_formats, [JSON, TEXT_PLAIN]);
        let attributes: Vec<_> = resource
            .attributes
            .iter()
            .map(|a| (a.name.as_str(), a.value.as_deref()))
            .collect();
        assert_eq!(
            attributes,
            [
                ("rt", Some("light")),
                ("if", Some("actuator")),
                ("title", Some("LED")),
                ("sz", Some("16")),
            ]
        );
    }

    #[test]
    fn a_sampled_resource_is_observable() {
        let resource = ResourceDescription::new("/t", Methods::GET).sample_interval_ms(2000);
        assert!(resource.observable);
        assert_eq!(resource.sample_interval_ms, Some(2000));
    }

    #[test]
    fn builds_a_plugin() {
        let plugin = PluginDescription::new("p", "1.2.3")
            .resource(ResourceDescription::new("/a", Methods::GET))
            .resource(ResourceDescription::new("/b", Methods::POST));
        assert_eq!(
            (plugin.name.as_str(), plugin.version.as_str()),
            ("p", "1.2.3")
        );
        let paths: Vec<_> = plugin.resources.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["/a", "/b"]);
    }

    #[test]
    fn a_flag_has_no_value() {
        assert_eq!(LinkAttribute::flag("x").value, None);
        assert_eq!(LinkAttribute::new("rt", "a").value.as_deref(), Some("a"));
    }
}
