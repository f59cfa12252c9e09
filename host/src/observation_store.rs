//! Observations kept across restarts (RFC 7641 allows a server to keep them;
//! libcoap does the same): who observes what, by socket. Written by a thread
//! of its own that batches changes into one transaction, so that a thousand
//! registrations cost the socket loop no disk waits.
//!
//! A host in a fleet (Redis configured) keeps them in Redis too, under its
//! host id, and restores them from there (`observation_mirror.rs`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use redb::{Database, ReadableDatabase, TableDefinition};

use crate::exchange::observe::ObserverKey;
use crate::message::Token;
use crate::observation_mirror::Mirror;

/// (local socket, client endpoint, token) → (path, Accept or u32::MAX).
const OBSERVATIONS: TableDefinition<(&str, &str, &[u8]), (&str, u32)> =
    TableDefinition::new("observations");

/// How long the writer gathers changes before it commits them together.
const BATCH_WINDOW: Duration = Duration::from_millis(50);

enum Change {
    Put {
        local: String,
        key: ObserverKey,
        path: String,
        accept: Option<u16>,
    },
    Delete {
        local: String,
        key: ObserverKey,
    },
}

/// A stored observation.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredObservation {
    /// Who observes.
    pub key: ObserverKey,
    /// What.
    pub path: String,
    /// In which format.
    pub accept: Option<u16>,
}

/// The observations database and its writer thread.
pub struct ObservationStore {
    db: std::sync::Arc<Database>,
    changes: mpsc::Sender<Change>,
    mirror: Option<Arc<Mirror>>,
    /// What Redis held at start, by socket, handed out by `load` in place
    /// of the file's.
    restored: Option<Mutex<HashMap<SocketAddr, Vec<StoredObservation>>>>,
}

impl ObservationStore {
    /// Opens (or creates) the database at `path` and starts its writer.
    pub fn open(path: &Path) -> Result<ObservationStore, redb::Error> {
        let db = std::sync::Arc::new(Database::create(path)?);
        let txn = db.begin_write()?;
        txn.open_table(OBSERVATIONS)?;
        txn.commit()?;
        let (changes, received) = mpsc::channel();
        let writer_db = db.clone();
        std::thread::Builder::new()
            .name("observation-store".to_owned())
            .spawn(move || write_batches(&writer_db, received))
            .map_err(redb::Error::Io)?;
        Ok(ObservationStore {
            db,
            changes,
            mirror: None,
            restored: None,
        })
    }

    /// The same store, recording into `mirror` too, and restoring what
    /// `restored` holds (if Redis answered at start) rather than the file's.
    pub fn with_mirror(
        mut self,
        mirror: Arc<Mirror>,
        restored: Option<HashMap<SocketAddr, Vec<StoredObservation>>>,
    ) -> ObservationStore {
        self.mirror = Some(mirror);
        self.restored = restored.map(Mutex::new);
        self
    }

    /// The observations recorded for the socket bound to `local` whose
    /// observers `ours` claims: those of the peers one socket loop serves,
    /// each loop of the address loading its own.
    pub fn load(
        &self,
        local: SocketAddr,
        ours: impl Fn(SocketAddr) -> bool,
    ) -> Result<Vec<StoredObservation>, redb::Error> {
        if let Some(restored) = &self.restored {
            let mut restored = restored
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let (found, others): (Vec<_>, Vec<_>) = restored
                .remove(&local)
                .unwrap_or_default()
                .into_iter()
                .partition(|observation| ours(observation.key.peer));
            if !others.is_empty() {
                restored.insert(local, others);
            }
            drop(restored);
            // The file follows, for a start while Redis is unreachable.
            for observation in &found {
                let _ = self.changes.send(Change::Put {
                    local: local.to_string(),
                    key: observation.key,
                    path: observation.path.clone(),
                    accept: observation.accept,
                });
            }
            return Ok(found);
        }
        let local = local.to_string();
        let txn = self.db.begin_read()?;
        let table = txn.open_table(OBSERVATIONS)?;
        let mut found = Vec::new();
        for entry in table.range((local.as_str(), "", &[][..])..)? {
            let (key, value) = entry?;
            let (socket, peer, token) = key.value();
            if socket != local {
                break;
            }
            let (Ok(peer), Some(token)) = (peer.parse(), Token::new(token)) else {
                continue;
            };
            if !ours(peer) {
                continue;
            }
            let (path, accept) = value.value();
            found.push(StoredObservation {
                key: ObserverKey { peer, token },
                path: path.to_owned(),
                accept: u16::try_from(accept).ok(),
            });
        }
        Ok(found)
    }

    /// Records an observation (soon, on the writer thread).
    pub fn put(&self, local: SocketAddr, key: ObserverKey, path: &str, accept: Option<u16>) {
        if let Some(mirror) = &self.mirror {
            mirror.put(local, &key, path, accept);
        }
        let _ = self.changes.send(Change::Put {
            local: local.to_string(),
            key,
            path: path.to_owned(),
            accept,
        });
    }

    /// Forgets an observation (soon, on the writer thread).
    pub fn delete(&self, local: SocketAddr, key: ObserverKey) {
        if let Some(mirror) = &self.mirror {
            mirror.delete(local, &key);
        }
        let _ = self.changes.send(Change::Delete {
            local: local.to_string(),
            key,
        });
    }
}

fn write_batches(db: &Database, received: mpsc::Receiver<Change>) {
    while let Ok(first) = received.recv() {
        std::thread::sleep(BATCH_WINDOW);
        let batch: Vec<Change> = std::iter::once(first).chain(received.try_iter()).collect();
        if let Err(error) = write(db, &batch) {
            tracing::warn!("cannot record {} observation changes: {error}", batch.len());
        }
    }
}

fn write(db: &Database, batch: &[Change]) -> Result<(), redb::Error> {
    let txn = db.begin_write()?;
    {
        let mut table = txn.open_table(OBSERVATIONS)?;
        for change in batch {
            match change {
                Change::Put {
                    local,
                    key,
                    path,
                    accept,
                } => {
                    let peer = key.peer.to_string();
                    let accept = accept.map_or(u32::MAX, u32::from);
                    table.insert(
                        (local.as_str(), peer.as_str(), key.token.as_bytes()),
                        (path.as_str(), accept),
                    )?;
                }
                Change::Delete { local, key } => {
                    let peer = key.peer.to_string();
                    table.remove((local.as_str(), peer.as_str(), key.token.as_bytes()))?;
                }
            }
        }
    }
    txn.commit()?;
    Ok(())
}
