//! Reading a CoRE link-format document, RFC 6690 §2: `<target>;attr=value`
//! links separated by commas, values plain or quoted.

/// One link: its target and its attributes in order (a name may repeat).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The URI-Reference between `<` and `>`.
    pub target: String,
    /// Attribute names and values; a bare name (`;obs`) has none.
    pub attributes: Vec<(String, Option<String>)>,
}

impl Link {
    /// Every value of attribute `name`, space-separated lists joined by a
    /// space (RFC 6690 §3.1: rt and if may be given as several).
    pub fn value(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .attributes
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_deref().unwrap_or(""))
            .collect();
        (!values.is_empty()).then(|| values.join(" "))
    }

    /// Whether the bare attribute or any value of `name` is present.
    pub fn has(&self, name: &str) -> bool {
        self.attributes.iter().any(|(n, _)| n == name)
    }
}

/// Parses a document; None if it is not link-format.
pub fn parse(document: &str) -> Option<Vec<Link>> {
    let mut links = Vec::new();
    let mut rest = document.trim();
    while !rest.is_empty() {
        rest = rest.strip_prefix('<')?;
        let end = rest.find('>')?;
        let target = rest[..end].to_owned();
        rest = &rest[end + 1..];
        let mut attributes = Vec::new();
        while let Some(after) = rest.trim_start().strip_prefix(';') {
            let after = after.trim_start();
            let name_end = after.find(['=', ';', ',']).unwrap_or(after.len());
            let name = after[..name_end].trim().to_owned();
            rest = &after[name_end..];
            let value = if let Some(after) = rest.strip_prefix('=') {
                if let Some(quoted) = after.strip_prefix('"') {
                    let (value, consumed) = quoted_string(quoted)?;
                    rest = &quoted[consumed..];
                    Some(value)
                } else {
                    let end = after.find([';', ',']).unwrap_or(after.len());
                    rest = &after[end..];
                    Some(after[..end].trim().to_owned())
                }
            } else {
                None
            };
            attributes.push((name, value));
        }
        links.push(Link { target, attributes });
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix(',') {
            rest = after.trim_start();
        } else if !rest.is_empty() {
            return None;
        }
    }
    Some(links)
}

/// The value of a quoted-string (RFC 6690 §2, RFC 2616 §2.2) whose opening
/// quote is gone, and the bytes it took with its closing quote.
fn quoted_string(text: &str) -> Option<(String, usize)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, i + 1)),
            '\\' => value.push(chars.next()?.1),
            c => value.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_links_and_attributes() {
        let links = parse(
            "</led>;rt=\"light actuator\";if=\"core.a\";ct=\"0 50\";obs,</info>;title=\"a, \\\"b\\\"\";ct=50",
        )
        .unwrap();
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].target, "/led");
        assert_eq!(links[0].value("rt").as_deref(), Some("light actuator"));
        assert!(links[0].has("obs"));
        assert_eq!(links[1].value("title").as_deref(), Some("a, \"b\""));
        assert_eq!(links[1].value("ct").as_deref(), Some("50"));
    }

    #[test]
    fn empty_and_garbage() {
        assert_eq!(parse(""), Some(vec![]));
        assert_eq!(parse("hello"), None);
        assert_eq!(parse("</a>;x=\"open"), None);
    }
}
