//! The cross-proxy's URI templates (RFC 8075 §5.4): a small, path-only
//! subset of RFC 6570. A template is an HTTP path whose segments are each a
//! literal or a whole variable: `{name}` matches one segment, `{+name}`
//! (RFC 6570's reserved expansion; the last segment only) the rest of the
//! path, slashes included. The target is a `coap://` URI in which the same
//! variables are replaced by what they matched, still percent-encoded as
//! the HTTP path had them (the CoAP URI parser decodes them).

use anyhow::{Context as _, bail, ensure};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    One(String),
    Rest(String),
}

/// A parsed path template.
#[derive(Debug, Clone)]
pub struct Template {
    segments: Vec<Segment>,
}

/// What a template's variables matched, by name.
pub type Bindings = Vec<(String, String)>;

impl Template {
    /// Parses `/devices/{ip}/temperature` and the like.
    pub fn parse(text: &str) -> anyhow::Result<Template> {
        let rest = text
            .strip_prefix('/')
            .with_context(|| format!("template {text:?} does not start with /"))?;
        let parts: Vec<&str> = rest.split('/').collect();
        let mut segments = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            let segment = match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(inner) => match inner.strip_prefix('+') {
                    Some(name) => {
                        ensure!(
                            i + 1 == parts.len(),
                            "template {text:?}: {{+{name}}} must be the last segment"
                        );
                        Segment::Rest(variable_name(name, text)?)
                    }
                    None => Segment::One(variable_name(inner, text)?),
                },
                None => {
                    ensure!(
                        !part.contains(['{', '}']),
                        "template {text:?}: a variable must be a whole segment"
                    );
                    Segment::Literal((*part).to_owned())
                }
            };
            segments.push(segment);
        }
        Ok(Template { segments })
    }

    /// The names of the variables.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::One(name) | Segment::Rest(name) => Some(name.as_str()),
            Segment::Literal(_) => None,
        })
    }

    /// What the variables match in `path`, or None if it does not match.
    pub fn matches(&self, path: &str) -> Option<Bindings> {
        let mut parts = path.strip_prefix('/')?.split('/');
        let mut bindings = Vec::new();
        for segment in &self.segments {
            match segment {
                Segment::Literal(literal) => {
                    if parts.next()? != literal {
                        return None;
                    }
                }
                Segment::One(name) => {
                    let value = parts.next().filter(|v| !v.is_empty())?;
                    bindings.push((name.clone(), value.to_owned()));
                }
                Segment::Rest(name) => {
                    let value = parts.by_ref().collect::<Vec<_>>().join("/");
                    if value.is_empty() {
                        return None;
                    }
                    bindings.push((name.clone(), value));
                }
            }
        }
        parts.next().is_none().then_some(bindings)
    }
}

fn variable_name(name: &str, template: &str) -> anyhow::Result<String> {
    ensure!(
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "template {template:?}: {name:?} is not a variable name (letters, digits, _)"
    );
    Ok(name.to_owned())
}

/// `target` with every `{name}` or `{+name}` replaced by its binding.
pub fn expand(target: &str, bindings: &Bindings) -> anyhow::Result<String> {
    let mut out = String::with_capacity(target.len() + 32);
    let mut rest = target;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..]
            .find('}')
            .with_context(|| format!("target {target:?}: an unclosed {{"))?;
        let inner = &rest[open + 1..open + close];
        let name = inner.strip_prefix('+').unwrap_or(inner);
        let Some((_, value)) = bindings.iter().find(|(n, _)| n == name) else {
            bail!("target {target:?}: {{{name}}} is no variable of the template");
        };
        out.push_str(value);
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_routes() {
        let template = Template::parse("/devices/{ip}/temperature").unwrap();
        let bindings = template.matches("/devices/10.0.0.7/temperature").unwrap();
        assert_eq!(
            expand("coap://{ip}:5683/temperature", &bindings).unwrap(),
            "coap://10.0.0.7:5683/temperature"
        );
        assert!(template.matches("/devices/10.0.0.7/led").is_none());
        assert!(template.matches("/devices//temperature").is_none());
        assert!(template.matches("/devices/1/temperature/x").is_none());
    }

    #[test]
    fn rest_of_the_path() {
        let template = Template::parse("/devices/{ip}/{+path}").unwrap();
        let bindings = template.matches("/devices/h/a/b%20c").unwrap();
        assert_eq!(
            expand("coap://{ip}/{+path}", &bindings).unwrap(),
            "coap://h/a/b%20c"
        );
        assert!(template.matches("/devices/h").is_none());
        assert!(template.matches("/devices/h/").is_none());
    }

    #[test]
    fn bad_templates() {
        assert!(Template::parse("devices/{ip}").is_err());
        assert!(Template::parse("/d/x{ip}").is_err());
        assert!(Template::parse("/d/{+a}/b").is_err());
        assert!(Template::parse("/d/{a-b}").is_err());
        let bindings = vec![("ip".to_owned(), "h".to_owned())];
        assert!(expand("coap://{host}/", &bindings).is_err());
        assert!(expand("coap://{ip/", &bindings).is_err());
    }
}
