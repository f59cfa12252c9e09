//! The socket layer: binding UDP sockets and the loop that feeds one socket's
//! datagrams to its message layer, sends what it asks, and runs plugin calls
//! on tasks of their own so that a slow plugin delays only its own requests.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use coap_lite::{Packet, ResponseType};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::exchange::{Dispatch, ExchangeLayer, response};
use crate::message::{Action, Exchange, MessageLayer};

/// The largest datagram read: the UDP maximum, so nothing is cut silently.
const MAX_DATAGRAM: usize = 65_535;

/// Binds a UDP socket. An unspecified IPv6 address (`[::]`) also accepts IPv4
/// (dual stack), so one socket serves both families.
pub fn bind(address: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::DGRAM,
        Some(Protocol::UDP),
    )?;
    if address.is_ipv6() && address.ip().is_unspecified() {
        socket.set_only_v6(false)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    UdpSocket::from_std(socket.into())
}

/// Limits of one socket's loop.
#[derive(Debug, Clone, Copy)]
pub struct EndpointLimits {
    /// Requests being handled by plugins at once; past it a request gets 5.03.
    pub max_pending_requests: usize,
}

/// Serves one socket until the task is dropped.
pub async fn serve(
    socket: UdpSocket,
    mut layer: MessageLayer,
    exchanges: Arc<ExchangeLayer>,
    limits: EndpointLimits,
) {
    let (completed_tx, mut completed_rx) = mpsc::unbounded_channel::<(Exchange, Packet)>();
    let mut buffer = vec![0u8; MAX_DATAGRAM];
    let mut actions: Vec<Action> = Vec::new();
    let mut queue: VecDeque<Action> = VecDeque::new();
    let mut pending = 0usize;
    let idle = Duration::from_secs(3600);
    let timer = tokio::time::sleep(idle);
    tokio::pin!(timer);
    let mut armed_for: Option<Instant> = None;

    loop {
        tokio::select! {
            // Finish work before taking more.
            biased;
            Some((exchange, response)) = completed_rx.recv() => {
                pending -= 1;
                layer.on_response(exchange, response, Instant::now(), &mut actions);
            }
            received = socket.recv_from(&mut buffer) => match received {
                Ok((len, from)) => layer.on_datagram(from, &buffer[..len], Instant::now(), &mut actions),
                Err(error) => tracing::debug!(%error, "receive failed"),
            },
            () = &mut timer => {
                armed_for = None;
                layer.on_timeout(Instant::now(), &mut actions);
            }
        }

        queue.extend(actions.drain(..));
        while let Some(action) = queue.pop_front() {
            match action {
                Action::Send { to, datagram } => {
                    if let Err(error) = socket.send_to(&datagram, to).await {
                        tracing::debug!(%to, %error, "send failed");
                    }
                }
                Action::Deliver { exchange, request } => {
                    let dispatch = if pending >= limits.max_pending_requests {
                        Dispatch::Respond(overloaded())
                    } else {
                        exchanges.dispatch(request, exchange.key.peer, exchange.confirmable)
                    };
                    match dispatch {
                        Dispatch::Respond(response) => {
                            layer.on_response(exchange, response, Instant::now(), &mut actions)
                        }
                        Dispatch::Reject => layer.on_reject(exchange, &mut actions),
                        Dispatch::Call(call) => {
                            pending += 1;
                            let completed = completed_tx.clone();
                            tokio::spawn(async move {
                                let response = call.run().await;
                                let _ = completed.send((exchange, response));
                            });
                        }
                    }
                    queue.extend(actions.drain(..));
                }
            }
        }

        let due = layer.next_deadline();
        if due != armed_for {
            let at = due.unwrap_or_else(|| Instant::now() + idle);
            timer.as_mut().reset(at.into());
            armed_for = due;
        }
    }
}

/// §5.9.3.4: 5.03 with Max-Age telling the client when to try again.
fn overloaded() -> Packet {
    let mut packet = response::diagnostic(
        ResponseType::ServiceUnavailable,
        "too many requests in progress",
    );
    packet.add_option(coap_lite::CoapOption::MaxAge, response::uint(1));
    packet
}
