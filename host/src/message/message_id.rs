//! Message ids for the messages the host originates (RFC 7252 §4.4).

/// Hands out message ids in sequence from a random start, so that a restarted
/// host is unlikely to reuse an id a client still remembers (§4.4: "randomized").
#[derive(Debug)]
pub struct MessageIdSequence {
    next: u16,
}

impl MessageIdSequence {
    /// A sequence that starts at `start`.
    pub fn starting_at(start: u16) -> Self {
        MessageIdSequence { next: start }
    }

    /// The id [`MessageIdSequence::next_id`] gives next, without taking it.
    pub fn peek(&self) -> u16 {
        self.next
    }

    /// The next message id.
    pub fn next_id(&mut self) -> u16 {
        let id = self.next;
        self.next = self.next.wrapping_add(1);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_around() {
        let mut ids = MessageIdSequence::starting_at(u16::MAX);
        assert_eq!(ids.next_id(), u16::MAX);
        assert_eq!(ids.next_id(), 0);
    }
}
