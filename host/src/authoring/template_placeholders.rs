//! The template's plugin name and resource path, replaced by the new
//! plugin's. Every template serves `/hello` as the plugin `hello` and
//! answers the text "hello": the path is replaced wherever it appears
//! (code and comments alike), the name only as a string literal on a line
//! that names the plugin (`name`, or Rust's `PluginDescription::new`), so
//! that the greeting stays "hello".

/// The template's plugin name.
const TEMPLATE_NAME: &str = "hello";
/// The template's resource path.
const TEMPLATE_PATH: &str = "/hello";

/// `text` with the template's name and path replaced; with how many names
/// were replaced, so that a template that stopped matching is noticed.
pub fn fill(text: &str, name: &str, path: &str) -> (String, usize) {
    let mut names = 0;
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let mut line = replace_path(line, path);
        if line.to_ascii_lowercase().contains("name") || line.contains("PluginDescription::new(") {
            for quote in ['"', '\''] {
                let literal = format!("{quote}{TEMPLATE_NAME}{quote}");
                if let Some(at) = line.find(&literal) {
                    line.replace_range(at..at + literal.len(), &format!("{quote}{name}{quote}"));
                    names += 1;
                    break;
                }
            }
        }
        out.push_str(&line);
    }
    (out, names)
}

/// `line` with every `/hello` that is a whole path (not `/hellos`) replaced.
fn replace_path(line: &str, path: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find(TEMPLATE_PATH) {
        let after = &rest[at + TEMPLATE_PATH.len()..];
        out.push_str(&rest[..at]);
        // `/hellos`, `/hello-world` or `hello.wasm` name something else.
        let extension = after
            .strip_prefix('.')
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_alphanumeric()));
        if extension
            || after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            out.push_str(TEMPLATE_PATH);
        } else {
            out.push_str(path);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authoring::Language;

    #[test]
    fn the_name_and_the_path_change_and_the_greeting_stays() {
        let (text, names) = fill(
            "// GET /hello answers \"hello\".\n  name: 'hello', // names\n  path: '/hello',\n  \
             payload=b\"hello\",\n  /hellos /x/hello.wasm /hello.\n",
            "my-sensor",
            "/sensors/kitchen",
        );
        assert_eq!(
            text,
            "// GET /sensors/kitchen answers \"hello\".\n  name: 'my-sensor', // names\n  \
             path: '/sensors/kitchen',\n  payload=b\"hello\",\n  /hellos /x/hello.wasm /sensors/kitchen.\n"
        );
        assert_eq!(names, 1);
    }

    /// Each template names its plugin once in its source (and Rust once
    /// more, its package): if a template changes so that this no longer
    /// holds, `new` would write a plugin still named "hello".
    #[test]
    fn every_template_names_its_plugin_where_expected() {
        for (language, expected) in [
            (Language::Rust, 2),
            (Language::C, 1),
            (Language::Go, 1),
            (Language::Python, 1),
            (Language::Javascript, 1),
        ] {
            let mut names = 0;
            let mut paths = 0;
            for file in language.template() {
                let Some(text) = file.text() else { continue };
                let (filled, count) = fill(text, "zz-test", "/zz/path");
                names += count;
                paths += filled.matches("/zz/path").count();
                assert!(
                    !filled.contains("\"/hello\"") && !filled.contains("'/hello'"),
                    "{language:?} {}",
                    file.path
                );
            }
            assert_eq!(names, expected, "{language:?}");
            assert!(paths >= 1, "{language:?}");
        }
    }
}
