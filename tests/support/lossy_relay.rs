//! A lossy link: a UDP relay between one client and the server that drops a
//! share of the datagrams in each direction, the way smoltcp's fault
//! injector turns packet loss into an ordinary test. Real sockets on
//! loopback; the drops follow a seeded generator, so a run can be repeated.
//! Never more than [`MAX_BURST`] datagrams in a row are dropped one way: the
//! tests are about recovering from loss, not about a run of bad luck that
//! no retransmission limit is meant to survive.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Datagrams the relay forwarded and dropped in one direction.
#[derive(Debug, Default)]
pub struct Counts {
    pub forwarded: AtomicU64,
    pub dropped: AtomicU64,
}

impl Counts {
    pub fn forwarded(&self) -> u64 {
        self.forwarded.load(Ordering::Relaxed)
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The relay; stops when dropped.
pub struct LossyRelay {
    address: SocketAddr,
    /// Client to server.
    pub upstream: Arc<Counts>,
    /// Server to client.
    pub downstream: Arc<Counts>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

/// The most datagrams dropped in a row in one direction.
pub const MAX_BURST: u32 = 2;

/// xorshift64*: enough randomness to pick drops, and repeatable by seed.
struct Dice {
    state: u64,
    in_a_row: u32,
}

impl Dice {
    fn new(seed: u64) -> Dice {
        Dice {
            state: seed | 1,
            in_a_row: 0,
        }
    }

    fn drops(&mut self, loss_percent: u64) -> bool {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let roll = self.state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32;
        let drop = roll % 100 < loss_percent && self.in_a_row < MAX_BURST;
        self.in_a_row = if drop { self.in_a_row + 1 } else { 0 };
        drop
    }
}

impl LossyRelay {
    /// Relays between one client and `server`, dropping `loss_percent` of
    /// the datagrams each way.
    pub fn start(server: SocketAddr, loss_percent: u64, seed: u64) -> LossyRelay {
        let facing_client = UdpSocket::bind("127.0.0.1:0").expect("bind the relay");
        let facing_server = UdpSocket::bind("127.0.0.1:0").expect("bind the relay");
        facing_server.connect(server).expect("connect the relay");
        for socket in [&facing_client, &facing_server] {
            // The threads look at the stop flag this often.
            socket
                .set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
        }
        let address = facing_client.local_addr().unwrap();
        let client: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (upstream, downstream) = (Arc::new(Counts::default()), Arc::new(Counts::default()));

        let up = {
            let (from, to) = (
                facing_client.try_clone().unwrap(),
                facing_server.try_clone().unwrap(),
            );
            let (client, stop, counts) = (client.clone(), stop.clone(), upstream.clone());
            std::thread::spawn(move || {
                let mut dice = Dice::new(seed);
                let mut buffer = [0u8; 65_535];
                while !stop.load(Ordering::Relaxed) {
                    let Ok((len, sender)) = from.recv_from(&mut buffer) else {
                        continue;
                    };
                    *client.lock().unwrap() = Some(sender);
                    forward(&mut dice, loss_percent, &counts, || {
                        let _ = to.send(&buffer[..len]);
                    });
                }
            })
        };
        let down = {
            let (from, to) = (facing_server, facing_client);
            let (stop, counts) = (stop.clone(), downstream.clone());
            std::thread::spawn(move || {
                let mut dice = Dice::new(seed.rotate_left(32));
                let mut buffer = [0u8; 65_535];
                while !stop.load(Ordering::Relaxed) {
                    let Ok(len) = from.recv(&mut buffer) else {
                        continue;
                    };
                    let Some(client) = *client.lock().unwrap() else {
                        continue;
                    };
                    forward(&mut dice, loss_percent, &counts, || {
                        let _ = to.send_to(&buffer[..len], client);
                    });
                }
            })
        };
        LossyRelay {
            address,
            upstream,
            downstream,
            stop,
            threads: vec![up, down],
        }
    }

    /// Where a client sends to reach the server across the link.
    pub fn addr(&self) -> SocketAddr {
        self.address
    }
}

fn forward(dice: &mut Dice, loss_percent: u64, counts: &Counts, send: impl FnOnce()) {
    if dice.drops(loss_percent) {
        counts.dropped.fetch_add(1, Ordering::Relaxed);
    } else {
        counts.forwarded.fetch_add(1, Ordering::Relaxed);
        send();
    }
}

impl Drop for LossyRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}
