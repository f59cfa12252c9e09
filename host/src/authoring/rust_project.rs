//! What makes a Rust plugin project build outside the repository: the SDK
//! crate vendored into `coapwasm-sdk/` (it is not on crates.io), its
//! manifest with the workspace's inherited keys written out, a project
//! manifest that is a workspace of its own with the repository's `plugin`
//! profile, and the repository's lock file, so that the SDK's dependencies
//! are the versions the host was built and tested with.

use anyhow::{Context as _, anyhow};
use toml::{Table, Value};

use super::embedded::{self, EmbeddedFile};

/// The folder of the vendored SDK, relative to the project.
pub const SDK_FOLDER: &str = "coapwasm-sdk";

/// Where the SDK finds the WIT package in the repository (`plugins/sdk` to
/// `wit/`), and where it is in a project (`coapwasm-sdk/` to `wit/`).
const REPOSITORY_WIT: &str = "path: \"../../wit\"";
const PROJECT_WIT: &str = "path: \"../wit\"";

/// The template's manifest (name already filled in) made a project's own: its
/// SDK dependency on the vendored copy, a `[workspace]` of its own (so that a
/// project inside another Cargo workspace still builds alone), and the
/// repository's `plugin` profile.
pub fn project_manifest(template: &str) -> anyhow::Result<String> {
    let mut lines: Vec<&str> = template.lines().collect();
    let dependency = lines
        .iter()
        .position(|line| line.starts_with("coapwasm-sdk ="))
        .ok_or_else(|| anyhow!("the Rust template's Cargo.toml has no coapwasm-sdk dependency"))?;
    // The comment above it explains the repository's relative path.
    let mut first = dependency;
    while first > 0 && lines[first - 1].starts_with('#') {
        first -= 1;
    }
    let replacement = format!(
        "# The coapwasm SDK, not on crates.io: `coapwasm new` copied it here from\n\
         # coapwasm {}, with the WIT package it is built on in wit/.\n\
         coapwasm-sdk = {{ path = \"{SDK_FOLDER}\" }}",
        env!("CARGO_PKG_VERSION")
    );
    lines.splice(first..=dependency, [replacement.as_str()]);
    let mut manifest = lines.join("\n");

    let workspace = workspace_manifest()?;
    let profile = workspace
        .get("profile")
        .and_then(|p| p.get("plugin"))
        .cloned()
        .ok_or_else(|| anyhow!("the workspace's Cargo.toml has no [profile.plugin]"))?;
    let mut profiles = Table::new();
    profiles.insert("plugin".to_owned(), profile);
    let mut tail = Table::new();
    tail.insert("workspace".to_owned(), Value::Table(Table::new()));
    tail.insert("profile".to_owned(), Value::Table(profiles));
    manifest.push_str(
        "\n\n# A workspace of its own, with the coapwasm repository's `plugin` profile:\n\
         # whole-program LTO makes plugins small and fast (build.sh uses it).\n",
    );
    manifest.push_str(&toml::to_string(&tail)?);
    Ok(manifest)
}

/// The SDK's files, as they go under [`SDK_FOLDER`]: its manifest with the
/// keys it inherits from the workspace written out, and its sources with the
/// WIT package's path as the project has it.
pub fn sdk_files() -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    let mut moved_wit = false;
    for file in embedded::RUST_SDK {
        let bytes = match file.path {
            "Cargo.toml" => sdk_manifest(text(file)?)?.into_bytes(),
            "src/lib.rs" => {
                let source = text(file)?;
                moved_wit = source.contains(REPOSITORY_WIT);
                source.replace(REPOSITORY_WIT, PROJECT_WIT).into_bytes()
            }
            _ => file.bytes.to_vec(),
        };
        files.push((file.path.to_owned(), bytes));
    }
    anyhow::ensure!(
        moved_wit,
        "the SDK's src/lib.rs no longer reads the WIT package from {REPOSITORY_WIT}"
    );
    Ok(files)
}

/// The repository's lock file: Cargo keeps the versions it locks for the
/// packages the project uses and drops the rest on the first build.
pub fn lock_file() -> anyhow::Result<&'static [u8]> {
    embedded::find(embedded::WORKSPACE, "Cargo.lock")
        .map(|file| file.bytes)
        .ok_or_else(|| anyhow!("no Cargo.lock was embedded"))
}

fn text(file: &EmbeddedFile) -> anyhow::Result<&'static str> {
    file.text()
        .ok_or_else(|| anyhow!("{} is not UTF-8", file.path))
}

fn workspace_manifest() -> anyhow::Result<Table> {
    let file = embedded::find(embedded::WORKSPACE, "Cargo.toml")
        .ok_or_else(|| anyhow!("no workspace Cargo.toml was embedded"))?;
    toml::from_str(text(file)?).context("the workspace's Cargo.toml")
}

/// `sdk` with every `key.workspace = true` replaced by the workspace's value.
fn sdk_manifest(sdk: &str) -> anyhow::Result<String> {
    let workspace = workspace_manifest()?;
    let section = |name: &str| {
        workspace
            .get("workspace")
            .and_then(|w| w.get(name))
            .and_then(Value::as_table)
            .cloned()
            .unwrap_or_default()
    };
    let (package, dependencies) = (section("package"), section("dependencies"));
    let mut manifest: Table = toml::from_str(sdk).context("the SDK's Cargo.toml")?;
    if let Some(Value::Table(own)) = manifest.get_mut("package") {
        for (key, value) in own.iter_mut() {
            if inherits(value) {
                *value = package
                    .get(key)
                    .cloned()
                    .ok_or_else(|| anyhow!("the workspace has no package.{key}"))?;
            }
        }
    }
    for kind in ["dependencies", "build-dependencies", "dev-dependencies"] {
        let Some(Value::Table(own)) = manifest.get_mut(kind) else {
            continue;
        };
        for (name, value) in own.iter_mut() {
            if !inherits(value) {
                continue;
            }
            let inherited = dependencies
                .get(name)
                .ok_or_else(|| anyhow!("the workspace has no dependency {name}"))?;
            // `dep = "1"` or `dep = { version = "1", ... }`, plus the
            // member's own keys (features, optional).
            let mut resolved = match inherited {
                Value::String(version) => {
                    Table::from_iter([("version".to_owned(), Value::String(version.clone()))])
                }
                Value::Table(table) => table.clone(),
                other => return Err(anyhow!("dependency {name} is {other}")),
            };
            if let Value::Table(own_keys) = value {
                for (key, own_value) in own_keys.iter().filter(|(k, _)| *k != "workspace") {
                    resolved.insert(key.clone(), own_value.clone());
                }
            }
            *value = Value::Table(resolved);
        }
    }
    Ok(format!(
        "# The coapwasm SDK as coapwasm {} has it (plugins/sdk), written by `coapwasm new`.\n{}",
        env!("CARGO_PKG_VERSION"),
        toml::to_string(&manifest)?
    ))
}

fn inherits(value: &Value) -> bool {
    value.get("workspace").and_then(Value::as_bool) == Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sdk_manifest_inherits_nothing() {
        let files = sdk_files().unwrap();
        let manifest = &files.iter().find(|(p, _)| p == "Cargo.toml").unwrap().1;
        let manifest: Table = toml::from_str(std::str::from_utf8(manifest).unwrap()).unwrap();
        assert_eq!(manifest["package"]["name"].as_str(), Some("coapwasm-sdk"));
        assert!(manifest["package"]["edition"].is_str());
        assert!(manifest["dependencies"]["wit-bindgen"]["version"].is_str());
        assert!(!format!("{manifest}").contains("workspace"));
    }

    #[test]
    fn the_project_manifest_is_a_workspace_with_the_plugin_profile() {
        let template = embedded::find(embedded::RUST_TEMPLATE, "Cargo.toml")
            .unwrap()
            .text()
            .unwrap();
        let manifest: Table = toml::from_str(&project_manifest(template).unwrap()).unwrap();
        assert_eq!(
            manifest["dependencies"]["coapwasm-sdk"]["path"].as_str(),
            Some(SDK_FOLDER)
        );
        assert!(manifest["workspace"].is_table());
        assert_eq!(manifest["profile"]["plugin"]["lto"].as_bool(), Some(true));
    }
}
