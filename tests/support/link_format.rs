//! A parser for CoRE link-format (RFC 6690 §2), so discovery tests compare
//! links and attributes rather than strings whose attribute order is free.

/// One link: `</path>;name=value;flag`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub target: String,
    /// Attributes in order; a quoted value is unquoted, a flag has no value.
    pub attributes: Vec<(String, Option<String>)>,
}

impl Link {
    /// The value of attribute `name`; panics if it occurs more than once.
    pub fn attribute(&self, name: &str) -> Option<Option<&str>> {
        let found: Vec<_> = self
            .attributes
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_deref())
            .collect();
        assert!(found.len() <= 1, "attribute {name} repeated in {self:?}");
        found.first().copied()
    }

    /// The value of attribute `name`, if present with a value.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.attribute(name).flatten()
    }

    pub fn has_flag(&self, name: &str) -> bool {
        self.attribute(name).is_some()
    }
}

/// Parses a link-format document; an error names what is malformed.
pub fn parse(text: &str) -> Result<Vec<Link>, String> {
    let mut links = Vec::new();
    let mut rest = text.trim();
    if rest.is_empty() {
        return Ok(links);
    }
    loop {
        rest = rest
            .strip_prefix('<')
            .ok_or_else(|| format!("expected '<' at {rest:?}"))?;
        let end = rest.find('>').ok_or("unterminated '<'")?;
        let mut link = Link {
            target: rest[..end].to_string(),
            attributes: Vec::new(),
        };
        rest = &rest[end + 1..];
        while let Some(after) = rest.strip_prefix(';') {
            let name_end = after.find(['=', ';', ',']).unwrap_or(after.len());
            let name = after[..name_end].trim().to_string();
            if name.is_empty() {
                return Err(format!("empty attribute name at {after:?}"));
            }
            rest = &after[name_end..];
            let value = if let Some(after) = rest.strip_prefix('=') {
                if let Some(quoted) = after.strip_prefix('"') {
                    let close = quoted.find('"').ok_or("unterminated quoted value")?;
                    rest = &quoted[close + 1..];
                    Some(quoted[..close].to_string())
                } else {
                    let end = after.find([';', ',']).unwrap_or(after.len());
                    rest = &after[end..];
                    Some(after[..end].to_string())
                }
            } else {
                None
            };
            link.attributes.push((name, value));
        }
        links.push(link);
        if rest.is_empty() {
            return Ok(links);
        }
        rest = rest
            .strip_prefix(',')
            .ok_or_else(|| format!("expected ',' or ';' at {rest:?}"))?;
    }
}

/// The one link to `target`; panics, showing the document, if there is not exactly one.
pub fn find<'a>(links: &'a [Link], target: &str) -> &'a Link {
    let found: Vec<&Link> = links.iter().filter(|l| l.target == target).collect();
    assert_eq!(
        found.len(),
        1,
        "expected exactly one link to {target} in {links:#?}"
    );
    found[0]
}

/// The link targets, sorted.
pub fn targets(links: &[Link]) -> Vec<String> {
    let mut targets: Vec<String> = links.iter().map(|l| l.target.clone()).collect();
    targets.sort();
    targets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quoted_flags_and_lists() {
        let links = parse(r#"</led>;ct=50;obs;rt="light";title="A, B;C",</t>;ct="50 0""#).unwrap();
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].value("ct"), Some("50"));
        assert!(links[0].has_flag("obs"));
        assert_eq!(links[0].value("title"), Some("A, B;C"));
        assert_eq!(links[1].value("ct"), Some("50 0"));
        assert!(parse("</a>;").is_err());
        assert!(parse("/a").is_err());
    }
}
