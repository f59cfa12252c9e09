//! Block-wise transfer (RFC 7959) for the end-to-end tests: Block option
//! values, hand-made Block1 uploads and Block2 downloads over a `Peer`, and
//! two real clients run with the arguments block-wise needs: libcoap's
//! coap-client (`-b SIZE`, `-f FILE`) and aiocoap (a `python3 -c` script).

use crate::coap_client;
use crate::datagram::{Code, Message, hex};
use crate::peer::Peer;
use crate::temp_dir::TempDir;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Option numbers of RFC 7959 that `datagram::option` does not name.
pub const BLOCK1: u16 = 27;
pub const SIZE1: u16 = 60;

/// Response codes of RFC 7959 §2.9.
pub const CONTINUE: Code = Code::new(2, 31);
pub const REQUEST_ENTITY_INCOMPLETE: Code = Code::new(4, 8);
pub const REQUEST_ENTITY_TOO_LARGE: Code = Code::new(4, 13);

/// The block sizes CoAP over UDP allows: SZX 0 to 6.
pub const SIZES: [usize; 7] = [16, 32, 64, 128, 256, 512, 1024];

/// How long a client process may run before the test kills it and fails.
const KILL_AFTER: Duration = Duration::from_secs(60);

/// A Block1 or Block2 option value (RFC 7959 §2.2), written out here rather
/// than taken from the host so that the tests check the wire format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    pub num: u32,
    pub more: bool,
    /// The block size in bytes, 16 to 1024.
    pub size: usize,
}

impl Block {
    pub fn new(num: u32, more: bool, size: usize) -> Block {
        assert!(SIZES.contains(&size), "no SZX for a {size}-byte block");
        Block { num, more, size }
    }

    /// SZX: log2(size) - 4.
    pub fn szx(&self) -> u32 {
        self.size.trailing_zeros() - 4
    }

    /// The option value as an unsigned integer.
    pub fn value(&self) -> u32 {
        (self.num << 4) | (u32::from(self.more) << 3) | self.szx()
    }

    /// Reads an option value; panics on SZX 7, which UDP does not allow.
    pub fn from_value(value: u32) -> Block {
        let szx = value & 0x7;
        assert!(
            szx < 7,
            "SZX 7 (BERT) in a Block option over UDP: {value:#x}"
        );
        Block {
            num: value >> 4,
            more: value & 0x8 != 0,
            size: 16 << szx,
        }
    }

    /// The block's first byte in the body.
    pub fn offset(&self) -> usize {
        self.num as usize * self.size
    }
}

/// The Block option `number` (BLOCK1 or `option::BLOCK2`) of `message`,
/// failing the test, naming the message, if there is none.
pub fn block_of(message: &Message, number: u16) -> Block {
    let value = message
        .uint_option_value(number)
        .unwrap_or_else(|| panic!("no option {number} (Block) in {message}"));
    Block::from_value(value)
}

/// A short description of a message for assertions: its header and options,
/// without a payload that may be kilobytes long.
pub fn brief(message: &Message) -> String {
    let mut text = format!(
        "{:?} {} mid={:#06x} token={}",
        message.mtype,
        message.code,
        message.mid,
        hex(&message.token)
    );
    for (number, value) in &message.options {
        text.push_str(&format!(" opt{number}={}", hex(value)));
    }
    text.push_str(&format!(" payload={} bytes", message.payload.len()));
    if let Ok(text_payload) = std::str::from_utf8(&message.payload)
        && message.code.class() >= 4
    {
        text.push_str(&format!(" {text_payload:?}"));
    }
    text
}

/// Sends `body` to `target` with `method` in Block1 blocks of `size` bytes,
/// in order, each a CON with a fresh MID and token; every block but the last
/// must be answered 2.31 Continue echoing its NUM, M set and the same size.
/// Returns the response to the last block.
pub fn upload(peer: &mut Peer, method: Code, target: &str, body: &[u8], size: usize) -> Message {
    let count = body.len().div_ceil(size).max(1);
    for (num, chunk) in body.chunks(size).enumerate().take(count - 1) {
        let block = Block::new(num as u32, true, size);
        let request = peer
            .con(method, target)
            .uint_option(BLOCK1, block.value())
            .payload(chunk);
        let response = peer.exchange(&request);
        assert_eq!(
            response.code,
            CONTINUE,
            "block {num} of {count}: {}",
            brief(&response)
        );
        assert_eq!(
            block_of(&response, BLOCK1),
            block,
            "2.31 echoes the block: {}",
            brief(&response)
        );
    }
    let last = Block::new(count as u32 - 1, false, size);
    let request = peer
        .con(method, target)
        .uint_option(BLOCK1, last.value())
        .payload(&body[last.offset().min(body.len())..]);
    peer.exchange(&request)
}

/// GETs `target` block by block in blocks of `size` bytes, from NUM 0 until a
/// block with M clear. Each response must be 2.05 with the Block2 asked for;
/// returns the reassembled body and the responses.
pub fn download(peer: &mut Peer, target: &str, size: usize) -> (Vec<u8>, Vec<Message>) {
    let (mut body, mut responses) = (Vec::new(), Vec::new());
    // 256 KiB in 16-byte blocks is 16384 blocks; nothing here is larger.
    for num in 0..16_384u32 {
        let asked = Block::new(num, false, size);
        let request = peer
            .con(Code::GET, target)
            .uint_option(crate::datagram::option::BLOCK2, asked.value());
        let response = peer.exchange(&request);
        assert_eq!(
            response.code,
            Code::CONTENT,
            "block {num}: {}",
            brief(&response)
        );
        let block = block_of(&response, crate::datagram::option::BLOCK2);
        assert_eq!(
            (block.num, block.size),
            (num, size),
            "the block asked for: {}",
            brief(&response)
        );
        body.extend_from_slice(&response.payload);
        let more = block.more;
        if more {
            assert_eq!(
                response.payload.len(),
                size,
                "a block before the last is full: {}",
                brief(&response)
            );
        }
        responses.push(response);
        if !more {
            return (body, responses);
        }
    }
    panic!("no block with M clear within 16384 blocks of {target}");
}

/// `len` pseudo-random bytes, different on every call.
pub fn random_bytes(len: usize) -> Vec<u8> {
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut state =
        (nanos ^ (u64::from(std::process::id()) << 32) ^ call.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The SHA-256 of a file as lowercase hex, computed by coreutils' sha256sum
/// (a tool independent of the host and of the firmware plugin).
pub fn sha256_hex(path: &Path) -> String {
    let output = Command::new("sha256sum")
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run sha256sum ({e}): install coreutils"));
    assert!(
        output.status.success(),
        "sha256sum {} failed",
        path.display()
    );
    let text = String::from_utf8(output.stdout).expect("sha256sum prints text");
    let digest = text
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    assert_eq!(digest.len(), 64, "unexpected sha256sum output {text:?}");
    digest
}

/// A finished client process.
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// What `-o FILE` (coap-client) or the script wrote: the response body.
    pub payload: Vec<u8>,
    /// coap-client's `-v 7` trace lines of messages it sent (`v:1 ...`).
    pub sent: Vec<String>,
    /// coap-client's `-v 7` trace lines of messages it received.
    pub received: Vec<String>,
}

impl Run {
    /// The output, for assertion messages; long traces are cut in the middle.
    pub fn shown(&self) -> String {
        fn cut(text: &str) -> String {
            let lines: Vec<&str> = text.lines().collect();
            if lines.len() <= 80 {
                return text.to_string();
            }
            format!(
                "{}\n... {} lines left out ...\n{}",
                lines[..40].join("\n"),
                lines.len() - 80,
                lines[lines.len() - 40..].join("\n")
            )
        }
        format!(
            "--- status {} ---\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- payload: {} bytes ---",
            self.status,
            cut(&self.stdout),
            cut(&self.stderr),
            self.payload.len()
        )
    }

    /// The code (`2.05`, `2.31`, ...) of a trace line.
    pub fn code_of(line: &str) -> &str {
        line.split_whitespace()
            .find_map(|word| word.strip_prefix("c:"))
            .unwrap_or_default()
    }

    /// The value of option `name` in a trace line, e.g. `"3/M/256"` for
    /// `Block1:3/M/256` in `[ ..., Block1:3/M/256 ]`.
    pub fn option_of<'a>(line: &'a str, name: &str) -> Option<&'a str> {
        let (_, after) = line.split_once(" [ ")?;
        let (options, _) = after.split_once(" ]")?;
        options
            .split(", ")
            .find_map(|option| option.strip_prefix(name)?.strip_prefix(':'))
    }

    /// A `NUM/M/SIZE` Block option as the trace shows it.
    pub fn block_in_trace(text: &str) -> Block {
        let parts: Vec<&str> = text.split('/').collect();
        assert_eq!(parts.len(), 3, "unexpected Block option text {text:?}");
        Block::new(
            parts[0].parse().expect("block number"),
            parts[1] == "M",
            parts[2].parse().expect("block size"),
        )
    }

    /// The received messages that are not empty ACKs.
    pub fn responses(&self) -> Vec<&str> {
        self.received
            .iter()
            .map(String::as_str)
            .filter(|line| Self::code_of(line) != "0.00")
            .collect()
    }

    /// The code of the last response; fails the test if there was none.
    pub fn final_code(&self) -> &str {
        let responses = self.responses();
        let last = responses
            .last()
            .unwrap_or_else(|| panic!("coap-client received no response\n{}", self.shown()));
        Self::code_of(last)
    }

    /// Asserts the process exited 0.
    pub fn assert_success(&self) -> &Run {
        assert!(self.status.success(), "client failed\n{}", self.shown());
        self
    }
}

/// libcoap's coap-client with any arguments, the URI last; always `-v 7`
/// (the trace on stdout) and `-o FILE` (the reassembled response payload).
pub fn coap_client(args: &[&str], uri: &str) -> Run {
    let dir = TempDir::new();
    let payload = dir.path().join("payload");
    let mut command = Command::new(coap_client::program());
    command
        .args(["-v", "7", "-B", "20", "-o"])
        .arg(&payload)
        .args(args)
        .arg(uri);
    let (status, stdout, stderr) = run_bounded(command, &dir);
    let (sent, received) = split_trace(&stdout);
    Run {
        status,
        payload: std::fs::read(&payload).unwrap_or_default(),
        stdout,
        stderr,
        sent,
        received,
    }
}

/// Runs `command` with stdout and stderr in files of `dir`, killing it (and
/// failing the test) if it outlives `KILL_AFTER`.
fn run_bounded(mut command: Command, dir: &TempDir) -> (ExitStatus, String, String) {
    let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
    command
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
    let described = format!("{command:?}");
    let mut child: Child = command
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {described}: {e}"));
    let status = crate::child::wait_bounded(
        &mut child,
        Instant::now() + KILL_AFTER,
        &format!("{described} (after {KILL_AFTER:?})"),
        || std::fs::read_to_string(&out).unwrap_or_default(),
    );
    (
        status,
        std::fs::read_to_string(&out).unwrap_or_default(),
        std::fs::read_to_string(&err).unwrap_or_default(),
    )
}

/// Splits coap-client's `-v 7` trace into the `v:1 ...` lines of messages
/// sent and received: each follows a log line ending in `sent N bytes` or
/// `received N bytes`.
fn split_trace(stdout: &str) -> (Vec<String>, Vec<String>) {
    let (mut sent, mut received) = (Vec::new(), Vec::new());
    let mut direction = None;
    for line in stdout.lines() {
        if line.starts_with("v:1 ") {
            match direction.take() {
                Some(true) => sent.push(line.to_string()),
                Some(false) => received.push(line.to_string()),
                None => {}
            }
        } else if let Some(i) = line.rfind(" bytes") {
            let words: Vec<&str> = line[..i].split_whitespace().rev().take(2).collect();
            direction = match words.get(1) {
                Some(&"sent") => Some(true),
                Some(&"received") => Some(false),
                _ => None,
            };
        }
    }
    (sent, received)
}

/// The aiocoap client script: `METHOD URI IN_FILE OUT_FILE`. Sends the
/// request (the body read from IN_FILE, empty if `-`) through aiocoap's
/// managed block-wise transfer, writes the response payload to OUT_FILE and
/// prints `code=C len=N` on stdout; on an aiocoap error prints
/// `error=TYPE: MESSAGE` on stderr and exits 1.
const AIOCOAP_SCRIPT: &str = r#"
import asyncio, sys
import aiocoap

async def main(method, uri, in_file, out_file):
    body = b"" if in_file == "-" else open(in_file, "rb").read()
    context = await aiocoap.Context.create_client_context()
    try:
        request = aiocoap.Message(code=getattr(aiocoap, method), uri=uri, payload=body)
        response = await asyncio.wait_for(context.request(request).response, 40)
    finally:
        await context.shutdown()
    with open(out_file, "wb") as out:
        out.write(response.payload)
    print(f"code={response.code.dotted} len={len(response.payload)}", flush=True)

try:
    asyncio.run(main(*sys.argv[1:5]))
except Exception as error:
    print(f"error={type(error).__name__}: {error}", file=sys.stderr, flush=True)
    sys.exit(1)
"#;

/// Runs a request through aiocoap (a real third-party client, which does
/// block-wise transfer by itself) and returns how it went; `body` None sends
/// no payload.
pub fn aiocoap(method: &str, uri: &str, body: Option<&[u8]>) -> Run {
    crate::aiocoap::assert_installed();
    let dir = TempDir::new();
    let out_file: PathBuf = dir.path().join("response");
    let in_file = match body {
        Some(body) => {
            let path = dir.path().join("request");
            std::fs::write(&path, body).unwrap();
            path.display().to_string()
        }
        None => "-".to_string(),
    };
    let mut command = Command::new("python3");
    command
        .args(["-c", AIOCOAP_SCRIPT, method, uri, &in_file])
        .arg(&out_file);
    let (status, stdout, stderr) = run_bounded(command, &dir);
    Run {
        status,
        payload: std::fs::read(&out_file).unwrap_or_default(),
        stdout,
        stderr,
        sent: Vec::new(),
        received: Vec::new(),
    }
}
