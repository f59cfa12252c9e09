//! Changes to a running server's plugins folder, made the ways files really
//! arrive: written elsewhere and renamed into place, copied over in place,
//! written in chunks with pauses, removed.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

/// A plugins folder; see `Server::plugins_folder`.
pub struct PluginsFolder {
    path: PathBuf,
}

/// A file whose first part has been written, and the rest still to come.
pub struct PartialWrite {
    file: File,
    path: PathBuf,
    rest: Vec<u8>,
}

impl PluginsFolder {
    pub fn new(path: PathBuf) -> PluginsFolder {
        PluginsFolder { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of `file_name` in the folder.
    pub fn file(&self, file_name: &str) -> PathBuf {
        self.path.join(file_name)
    }

    /// Writes `bytes` to `staging` (a name the server must ignore, such as
    /// `.x.wasm.tmp` or `x.wasm.part`) in the same folder, then renames it to
    /// `file_name`: the file appears, or replaces the old one, whole and at once.
    pub fn write_then_rename(&self, staging: &str, file_name: &str, bytes: &[u8]) {
        let staged = self.stage(staging, bytes);
        self.rename_path(&staged, file_name);
    }

    /// Writes `bytes` completely to `staging` in the folder and returns its
    /// path, to be renamed into place later with `rename`.
    pub fn stage(&self, staging: &str, bytes: &[u8]) -> PathBuf {
        let path = self.file(staging);
        let mut file = File::create(&path).unwrap_or_else(|e| panic!("create {path:?}: {e}"));
        file.write_all(bytes)
            .unwrap_or_else(|e| panic!("write {path:?}: {e}"));
        file.sync_all()
            .unwrap_or_else(|e| panic!("sync {path:?}: {e}"));
        path
    }

    /// Renames `from` to `to`, both names in the folder.
    pub fn rename(&self, from: &str, to: &str) {
        self.rename_path(&self.file(from), to);
    }

    fn rename_path(&self, from: &Path, to: &str) {
        let to = self.file(to);
        std::fs::rename(from, &to).unwrap_or_else(|e| panic!("rename {from:?} to {to:?}: {e}"));
    }

    /// Overwrites `file_name` in place with `bytes` in one write (truncating
    /// the file first), as `cp` does to a file that exists.
    pub fn overwrite(&self, file_name: &str, bytes: &[u8]) {
        let path = self.file(file_name);
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("write {path:?}: {e}"));
    }

    /// Truncates (or creates) `file_name` and writes the first `first` bytes
    /// of `bytes`, flushed, leaving the file half-written until `finish`.
    pub fn begin_write(&self, file_name: &str, bytes: &[u8], first: usize) -> PartialWrite {
        let path = self.file(file_name);
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("open {path:?}: {e}"));
        file.write_all(&bytes[..first])
            .unwrap_or_else(|e| panic!("write {path:?}: {e}"));
        file.flush().unwrap();
        file.sync_data()
            .unwrap_or_else(|e| panic!("sync {path:?}: {e}"));
        PartialWrite {
            file,
            path,
            rest: bytes[first..].to_vec(),
        }
    }

    /// Overwrites `file_name` in place in `chunks` pieces with `pause` after
    /// each but the last, as a slow `cp` would.
    pub fn write_in_chunks(&self, file_name: &str, bytes: &[u8], chunks: usize, pause: Duration) {
        assert!(chunks >= 1 && chunks <= bytes.len(), "{chunks} chunks");
        let size = bytes.len().div_ceil(chunks);
        let mut write = self.begin_write(file_name, bytes, size);
        for _ in 1..chunks {
            thread::sleep(pause);
            write = write.next(size);
        }
        write.finish();
    }

    /// Writes the manifest `STEM.toml` beside `STEM.wasm` whole and at once:
    /// staged as `.STEM.toml.tmp`, then renamed into place.
    pub fn write_manifest(&self, stem: &str, toml: &str) {
        let file_name = format!("{stem}.toml");
        self.write_then_rename(&format!(".{file_name}.tmp"), &file_name, toml.as_bytes());
    }

    /// Removes `file_name`.
    pub fn remove(&self, file_name: &str) {
        let path = self.file(file_name);
        std::fs::remove_file(&path).unwrap_or_else(|e| panic!("remove {path:?}: {e}"));
    }
}

impl PartialWrite {
    /// Appends up to `size` more bytes, flushed.
    pub fn next(mut self, size: usize) -> PartialWrite {
        let size = size.min(self.rest.len());
        let chunk: Vec<u8> = self.rest.drain(..size).collect();
        self.file
            .write_all(&chunk)
            .unwrap_or_else(|e| panic!("write {:?}: {e}", self.path));
        self.file.flush().unwrap();
        self.file
            .sync_data()
            .unwrap_or_else(|e| panic!("sync {:?}: {e}", self.path));
        self
    }

    /// Writes the rest and closes the file.
    pub fn finish(self) {
        let rest = self.rest.len();
        drop(self.next(rest));
    }
}
