//! The files `coapwasm new` writes, embedded in the binary by `host/build.rs`,
//! which walks their folders in the repository.

/// One embedded file.
pub struct EmbeddedFile {
    /// Its path relative to the embedded folder, `/`-separated.
    pub path: &'static str,
    /// Its contents.
    pub bytes: &'static [u8],
}

impl EmbeddedFile {
    /// The contents as text, or None for a file that is not UTF-8.
    pub fn text(&self) -> Option<&'static str> {
        std::str::from_utf8(self.bytes).ok()
    }
}

/// The embedded file of `files` at `path`.
pub fn find(files: &'static [EmbeddedFile], path: &str) -> Option<&'static EmbeddedFile> {
    files.iter().find(|file| file.path == path)
}

include!(concat!(env!("OUT_DIR"), "/embedded_files.rs"));
