//! A plugin's manifest: `X.toml` beside `X.wasm`, overriding the host's limits
//! for that plugin and granting it capabilities beyond the default (clocks,
//! randomness, the host's log and its own key-value namespace).

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// What `X.toml` says. Every key is optional; no manifest is the default.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Manifest {
    /// Overrides of the host's `[runtime]` limits.
    pub limits: LimitOverrides,
    /// Access granted beyond the default.
    pub capabilities: Capabilities,
}

/// Overrides of the host's limits for one plugin.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitOverrides {
    /// CPU time one call may use.
    pub max_cpu_ms_per_call: Option<u64>,
    /// The largest linear memory of an instance.
    pub max_memory_bytes: Option<usize>,
    /// Instances that may run at once.
    pub max_instances: Option<usize>,
    /// The most elements any one table of an instance may hold.
    pub max_table_elements: Option<usize>,
    /// The largest payload of one response.
    pub max_response_bytes: Option<usize>,
    /// The most bytes of keys and values its key-value namespace may hold.
    pub max_storage_bytes: Option<u64>,
}

/// Capabilities a manifest grants.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Capabilities {
    /// Host environment variables passed through by name; one the host does
    /// not have is left out.
    pub environment: Vec<String>,
    /// Host directories the plugin may open.
    pub directories: Vec<DirectoryGrant>,
}

/// One preopened directory.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryGrant {
    /// The host directory, relative to the manifest's folder or absolute.
    pub host: PathBuf,
    /// Where the plugin sees it, such as `/data`.
    pub guest: String,
    /// Whether the plugin may only read. Default true.
    #[serde(default = "read_only_by_default")]
    pub read_only: bool,
}

fn read_only_by_default() -> bool {
    true
}

impl Manifest {
    /// The manifest file of the component `file`: same name, `.toml`.
    pub fn path_for(file: &Path) -> PathBuf {
        file.with_extension("toml")
    }

    /// The manifest beside `file`, or the default if there is none; an error
    /// names what is wrong with it.
    pub fn for_component(file: &Path) -> Result<Manifest, String> {
        let path = Self::path_for(file);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Manifest::default());
            }
            Err(error) => return Err(format!("cannot read manifest {}: {error}", path.display())),
        };
        let mut manifest: Manifest = toml::from_str(&text).map_err(|error| {
            let reason = error
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            format!("invalid manifest {}: {reason}", path.display())
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        for grant in &mut manifest.capabilities.directories {
            if grant.host.is_relative() {
                grant.host = base.join(&grant.host);
            }
            if !grant.host.is_dir() {
                return Err(format!(
                    "invalid manifest {}: directory {} does not exist",
                    path.display(),
                    grant.host.display()
                ));
            }
            if !grant.guest.starts_with('/') {
                return Err(format!(
                    "invalid manifest {}: guest path {:?} must be absolute",
                    path.display(),
                    grant.guest
                ));
            }
        }
        let limits = &manifest.limits;
        if limits.max_cpu_ms_per_call == Some(0)
            || limits.max_memory_bytes == Some(0)
            || limits.max_instances == Some(0)
            || limits.max_response_bytes == Some(0)
        {
            return Err(format!(
                "invalid manifest {}: limits must be positive",
                path.display()
            ));
        }
        Ok(manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_format() {
        let manifest: Manifest = toml::from_str(
            "[limits]\nmax_memory_bytes = 8388608\n[capabilities]\nenvironment = [\"A\"]\n\
             [[capabilities.directories]]\nhost = \"shared\"\nguest = \"/data\"\n",
        )
        .unwrap();
        assert_eq!(manifest.limits.max_memory_bytes, Some(8_388_608));
        let response_limit: Manifest =
            toml::from_str("[limits]\nmax_response_bytes = 4096\n").unwrap();
        assert_eq!(response_limit.limits.max_response_bytes, Some(4096));
        assert_eq!(manifest.capabilities.environment, vec!["A"]);
        assert!(manifest.capabilities.directories[0].read_only);
    }

    #[test]
    fn unknown_keys_are_errors() {
        assert!(toml::from_str::<Manifest>("[limits]\nmax_memory = 1\n").is_err());
    }
}
