//! Reading a request's Uri-Query (RFC 7252 §5.10.1).

use crate::Request;

impl Request {
    /// The value of the first Uri-Query item `name=value`, or `""` for an item
    /// that is just `name`; `None` when no item has that name. `?ms=20` gives
    /// `query_value("ms") == Some("20")`, `?important` gives
    /// `query_value("important") == Some("")`.
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find_map(|item| match item.strip_prefix(name)? {
                "" => Some(""),
                rest => rest.strip_prefix('='),
            })
    }
}

#[cfg(test)]
mod tests {
    use crate::{Method, Request};

    fn request(query: &[&str]) -> Request {
        Request {
            method: Method::Get,
            path: "/q".into(),
            query: query.iter().map(|&item| item.into()).collect(),
            content_format: None,
            accept: None,
            payload: Vec::new(),
            source: "[::1]:5683".into(),
        }
    }

    #[test]
    fn finds_the_first_item_of_a_name() {
        let request = request(&["msx=1", "ms=20", "ms=30", "flag", "empty="]);
        assert_eq!(request.query_value("ms"), Some("20"));
        assert_eq!(request.query_value("flag"), Some(""));
        assert_eq!(request.query_value("empty"), Some(""));
        assert_eq!(request.query_value("m"), None);
        assert_eq!(request.query_value("other"), None);
    }
}
