//! Transmission parameters, RFC 7252 §4.8, and the times derived from them (§4.8.2).

use std::time::Duration;

/// The knobs of message-layer reliability. Defaults are the RFC's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TransmissionParameters {
    /// ACK_TIMEOUT: the least time before a confirmable message is sent again.
    pub ack_timeout: Duration,
    /// ACK_RANDOM_FACTOR: the initial timeout is drawn from
    /// `[ACK_TIMEOUT, ACK_TIMEOUT * ACK_RANDOM_FACTOR]`.
    pub ack_random_factor: f64,
    /// MAX_RETRANSMIT: how often a confirmable message is sent again.
    pub max_retransmit: u32,
    /// How long a confirmable request may wait for its handler before it gets
    /// an empty ACK and a separate response later (§5.2.2).
    pub separate_response_after: Duration,
    /// How many (endpoint, message id) pairs the deduplication cache holds.
    pub deduplication_capacity: usize,
}

impl Default for TransmissionParameters {
    fn default() -> Self {
        TransmissionParameters {
            ack_timeout: Duration::from_secs(2),
            ack_random_factor: 1.5,
            max_retransmit: 4,
            separate_response_after: Duration::from_secs(1),
            deduplication_capacity: 65536,
        }
    }
}

/// MAX_LATENCY (§4.8.2): the longest a datagram is assumed to be in transit.
const MAX_LATENCY: Duration = Duration::from_secs(100);

impl TransmissionParameters {
    /// MAX_TRANSMIT_SPAN: from the first to the last transmission of a CON.
    pub fn max_transmit_span(&self) -> Duration {
        let retransmissions = (1u32 << self.max_retransmit) - 1;
        self.ack_timeout
            .mul_f64(f64::from(retransmissions) * self.ack_random_factor)
    }

    /// PROCESSING_DELAY (§4.8.2), which the RFC sets to ACK_TIMEOUT.
    fn processing_delay(&self) -> Duration {
        self.ack_timeout
    }

    /// EXCHANGE_LIFETIME: how long a CON's message id may be in use; the time a
    /// duplicate of a CON must be recognised for.
    pub fn exchange_lifetime(&self) -> Duration {
        self.max_transmit_span() + 2 * MAX_LATENCY + self.processing_delay()
    }

    /// NON_LIFETIME: how long a NON's message id may be in use.
    pub fn non_lifetime(&self) -> Duration {
        self.max_transmit_span() + MAX_LATENCY
    }

    /// The initial retransmission timeout for a new CON: random in
    /// `[ACK_TIMEOUT, ACK_TIMEOUT * ACK_RANDOM_FACTOR]` (§4.2). `unit` is a
    /// random number in `[0, 1)`, passed in to keep this function pure.
    pub fn initial_timeout(&self, unit: f64) -> Duration {
        let factor = 1.0 + (self.ack_random_factor - 1.0) * unit.clamp(0.0, 1.0);
        self.ack_timeout.mul_f64(factor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The derived values the RFC lists in §4.8.2 for the default parameters.
    #[test]
    fn derived_times_match_rfc_7252_section_4_8_2() {
        let p = TransmissionParameters::default();
        assert_eq!(p.max_transmit_span(), Duration::from_secs(45));
        assert_eq!(p.exchange_lifetime(), Duration::from_secs(247));
        assert_eq!(p.non_lifetime(), Duration::from_secs(145));
    }

    #[test]
    fn initial_timeout_spans_the_random_range() {
        let p = TransmissionParameters::default();
        assert_eq!(p.initial_timeout(0.0), Duration::from_secs(2));
        assert_eq!(p.initial_timeout(1.0), Duration::from_secs(3));
    }
}
