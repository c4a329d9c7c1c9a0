//! Mistakes an adapter around a "ready/advance" library makes, planted in the raft-rs adapter
//! (`raft.bugs` with `node: raft-rs`, or `--bug NAME`) to show that the seed search finds
//! them. Each breaks the durability contract of `docs/TEST-YOUR-RAFT.md`; all are off by
//! default ([`Bugs::NONE`]).

/// One planted adapter mistake, by the name scenario files and the command line use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bug {
    /// `on_persist_ready` is called as soon as a Ready's write is issued, not when it is
    /// durable: a leader counts its own log toward a commit that a crash can undo.
    AckBeforeDurable,
    /// `persisted_messages` are sent at once instead of after the write: vote grants and
    /// append acknowledgements go out for state a crash forgets (Figure 2: persistent state is
    /// on stable storage before responding).
    PersistedMessagesAtOnce,
    /// `must_sync` is dropped: a Ready that must be synced is treated as durable when its write
    /// is issued (both of the mistakes above, for those Readies).
    DropMustSync,
}

impl Bug {
    pub const ALL: [Bug; 3] = [
        Bug::AckBeforeDurable,
        Bug::PersistedMessagesAtOnce,
        Bug::DropMustSync,
    ];

    /// The names, as in scenario files and on the command line.
    pub const NAMES: [&'static str; 3] = [
        "ack-before-durable",
        "persisted-messages-at-once",
        "drop-must-sync",
    ];

    pub fn name(self) -> &'static str {
        Bug::NAMES[self as usize]
    }

    pub fn from_name(name: &str) -> Option<Bug> {
        Bug::NAMES
            .iter()
            .position(|&n| n == name)
            .map(|i| Bug::ALL[i])
    }
}

/// The planted mistakes switched on; [`Bugs::NONE`] by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Bugs(u8);

impl Bugs {
    pub const NONE: Bugs = Bugs(0);

    pub const fn with(self, bug: Bug) -> Bugs {
        Bugs(self.0 | 1 << bug as u8)
    }

    #[inline]
    pub const fn has(self, bug: Bug) -> bool {
        self.0 & 1 << bug as u8 != 0
    }
}

impl FromIterator<Bug> for Bugs {
    fn from_iter<I: IntoIterator<Item = Bug>>(iter: I) -> Bugs {
        iter.into_iter().fold(Bugs::NONE, Bugs::with)
    }
}
