//! `curl` against the HTTP front, bounded in time: the status, the headers
//! and the body of one request.

use std::collections::HashMap;
use std::process::{Command, Stdio};

use crate::temp_dir::TempDir;

/// What came back.
pub struct Reply {
    pub status: u16,
    /// Names lowercase.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// `curl ARGS URL`, within 30 s. `--path-as-is` keeps a proxy target's
/// `//` as it is.
pub fn curl(args: &[&str], url: &str) -> Reply {
    let dir = TempDir::new();
    let headers_file = dir.path().join("headers");
    let body_file = dir.path().join("body");
    let output = Command::new("curl")
        .args(["-s", "--path-as-is", "--max-time", "30", "-o"])
        .arg(&body_file)
        .arg("-D")
        .arg(&headers_file)
        .args(["-w", "%{http_code}"])
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .expect("curl (Debian: curl)");
    let status: u16 = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("curl {args:?} {url}: {output:?}"));
    let headers = std::fs::read_to_string(&headers_file)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            Some((name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        })
        .collect();
    Reply {
        status,
        headers,
        body: std::fs::read(&body_file).unwrap_or_default(),
    }
}
