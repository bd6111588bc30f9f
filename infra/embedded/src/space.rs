//! Space written ahead of the log's appends, by a thread of its own.
//!
//! An append that grows the file makes its `fdatasync` allocate blocks and
//! write the inode too; into space that was written (zeros) and synced
//! beforehand, the sync writes the data only. Measured here (32 KiB appends,
//! each synced): 0.27 ms a sync appending, 0.25 ms with the zeros written just
//! before but synced with the data, 0.14 ms into zeros synced beforehand. So a
//! helper thread keeps zeros written and synced ahead of the frames, and the
//! writer's syncs never pay for it.
//!
//! The writer never writes where the helper is writing: the helper claims a
//! range past everything written so far, and an append that would reach into
//! a claimed range waits for it (only when the writer outruns the helper). An
//! append past every claim simply grows the file, as a plain append would.

use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use crate::storage::Faults;

/// Least space kept written ahead of the frames.
const AHEAD_MIN: u64 = 256 << 10;

/// Most space kept written ahead of the frames.
const AHEAD_MAX: u64 = 4 << 20;

/// Where the file's space stands.
#[derive(Default)]
struct Marks {
    /// Everything below is written and synced (zeros or frames).
    ready: u64,
    /// The helper is writing zeros from `ready` up to here.
    claimed: u64,
    /// The writer wants zeros up to here.
    wanted: u64,
    closing: bool,
}

struct Shared {
    marks: Mutex<Marks>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Marks> {
        self.marks.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The write-ahead space of one open log file and its helper thread.
pub(crate) struct Space {
    shared: Arc<Shared>,
    helper: Option<JoinHandle<()>>,
}

impl Space {
    /// Space for `file`, whose first `size` bytes are written; starts the helper.
    pub(crate) fn new(
        file: &File,
        size: u64,
        faults: Option<&Arc<Faults>>,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            marks: Mutex::new(Marks {
                ready: size,
                claimed: size,
                wanted: size,
                closing: false,
            }),
            changed: Condvar::new(),
        });
        let helper = std::thread::Builder::new()
            .name("dcr-embedded-space".into())
            .spawn({
                let shared = Arc::clone(&shared);
                let file = file.try_clone()?;
                let faults = faults.cloned();
                move || write_ahead(&shared, &file, faults.as_deref())
            })?;
        Ok(Self {
            shared,
            helper: Some(helper),
        })
    }

    /// Called before the writer writes up to `end`: waits while the helper
    /// writes zeros where that write goes, and asks for more space ahead.
    pub(crate) fn before_append(&self, end: u64) {
        let mut marks = self.shared.lock();
        while end > marks.ready && marks.claimed > marks.ready {
            marks = self
                .shared
                .changed
                .wait(marks)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if end > marks.ready {
            // Past every claim: this write grows the file itself.
            marks.ready = end;
            marks.claimed = end;
        }
        let ahead = (end / 4).clamp(AHEAD_MIN, AHEAD_MAX);
        if marks.wanted < end + ahead / 2 {
            marks.wanted = end + ahead;
            self.shared.changed.notify_all();
        }
    }
}

impl Drop for Space {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.changed.notify_all();
        if let Some(helper) = self.helper.take() {
            let _ = helper.join();
        }
    }
}

/// The helper's body: writes and syncs the zeros the writer asks for.
fn write_ahead(shared: &Shared, file: &File, faults: Option<&Faults>) {
    loop {
        let (start, target) = {
            let mut marks = shared.lock();
            while !marks.closing && marks.wanted <= marks.claimed {
                marks = shared
                    .changed
                    .wait(marks)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if marks.closing {
                return;
            }
            let start = marks.claimed;
            marks.claimed = marks.wanted;
            (start, marks.wanted)
        };
        let written = zeros(file, start, target, faults);
        let mut marks = shared.lock();
        if written.is_ok() {
            marks.ready = target;
        } else {
            // The writer's own appends will meet the same fault and report it.
            marks.claimed = marks.ready;
            marks.wanted = marks.ready;
        }
        shared.changed.notify_all();
    }
}

/// Writes zeros over `start..target` and syncs them.
fn zeros(file: &File, start: u64, target: u64, faults: Option<&Faults>) -> std::io::Result<()> {
    static ZEROS: [u8; 64 << 10] = [0; 64 << 10];
    let mut at = start;
    while at < target {
        if let Some(faults) = faults {
            faults.check_disk_full()?;
        }
        let n = (target - at).min(ZEROS.len() as u64) as usize;
        file.write_all_at(&ZEROS[..n], at)?;
        at += n as u64;
    }
    file.sync_data()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The helper's zeros never land on the writer's bytes, and leave no gap:
    /// the file is every append in order, then zeros only.
    #[test]
    fn zeros_ahead_never_overwrite_appends() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create_new(dir.path().join("log")).unwrap();
        let space = Space::new(&file, 0, None).unwrap();
        let mut expected = Vec::new();
        for i in 0..3000_usize {
            // Sizes from 1 byte to ~20 KiB, so that appends both stay inside
            // the space ahead and run past it while the helper is writing.
            let len = 1 + (i * 7919) % 20_000;
            let byte = u8::try_from(i % 255).unwrap() + 1;
            let end = expected.len() as u64 + len as u64;
            space.before_append(end);
            file.write_all_at(&vec![byte; len], expected.len() as u64)
                .unwrap();
            expected.resize(expected.len() + len, byte);
        }
        drop(space);
        let written = std::fs::read(dir.path().join("log")).unwrap();
        assert!(written.len() >= expected.len());
        assert!(
            written[..expected.len()] == expected[..],
            "an append was overwritten"
        );
        assert!(written[expected.len()..].iter().all(|b| *b == 0));
    }
}
