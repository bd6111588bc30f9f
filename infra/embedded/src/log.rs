//! The file format: a header, then checksummed frames of entries, appended.
//!
//! ```text
//! file   := HEADER frame*
//! HEADER := "DCRLOG" 0x00 0x01                  (8 bytes: magic and format version)
//! frame  := "DCRf" len:u32 crc:u32 payload      (crc32 of len and payload; little endian)
//! payload:= entry*
//! entry  := 1 json                              a client record (JSON of `ClientRecord`)
//!         | 2 id                                the record of `id` is gone
//!         | 3 id secret                         the secret of `id`
//!         | 4 id                                the secret of `id` is gone
//!         | 5 key expires_at:i64                a `remember_once` key
//! json, id, secret, key := len:u32 bytes
//! ```
//!
//! One write group of the writer is one frame, appended with one `write`; a
//! compaction writes the whole state as frames of a new file. Replaying the
//! entries in order rebuilds the state: a later entry for the same key wins.
//!
//! The frames may be followed by zeros: space written ahead of the appends
//! (see `storage::LogFile`). A frame that fails its checksum is damage, unless
//! it is the last thing in the file (a write torn by a crash: it was never
//! acknowledged, the same as a database's fallback to the commit before a torn
//! one). To tell the two apart the scan looks past a bad frame for any valid
//! one: if there is one, the file is damaged and refused.

use anyhow::{Context as _, anyhow, bail};
use dcr_core::ClientRecord;

/// The first bytes of every log file: magic and format version.
pub(crate) const HEADER: &[u8; 8] = b"DCRLOG\x00\x01";

const FRAME_MAGIC: &[u8; 4] = b"DCRf";
const FRAME_HEAD: usize = 12;

const RECORD: u8 = 1;
const RECORD_GONE: u8 = 2;
const SECRET: u8 = 3;
const SECRET_GONE: u8 = 4;
const ONCE: u8 = 5;

/// One change, as read back from a frame.
#[derive(Debug)]
pub(crate) enum Entry<'a> {
    Record(&'a [u8]),
    RecordGone(&'a str),
    Secret(&'a str, &'a str),
    SecretGone(&'a str),
    Once(&'a str, i64),
}

/// Frames being built; the buffer is kept between groups.
#[derive(Default)]
pub(crate) struct Frames {
    buf: Vec<u8>,
    /// Where the open frame starts, if one is open.
    open: Option<usize>,
}

impl Frames {
    /// Forgets everything built so far.
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.open = None;
    }

    /// The bytes of the finished frames.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Whether no entry has been added since the last [`Frames::clear`].
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The size of the open frame's payload so far.
    pub(crate) fn open_len(&self) -> usize {
        self.open
            .map_or(0, |start| self.buf.len() - start - FRAME_HEAD)
    }

    fn begin(&mut self) {
        if self.open.is_none() {
            self.open = Some(self.buf.len());
            self.buf.extend_from_slice(FRAME_MAGIC);
            self.buf.extend_from_slice(&[0; FRAME_HEAD - 4]);
        }
    }

    /// Closes the open frame: writes its length and checksum.
    pub(crate) fn finish(&mut self) {
        let Some(start) = self.open.take() else {
            return;
        };
        let len = u32::try_from(self.buf.len() - start - FRAME_HEAD).unwrap_or(u32::MAX);
        self.buf[start + 4..start + 8].copy_from_slice(&len.to_le_bytes());
        let crc = crc32fast::hash(&self.buf[start + 4..start + 8]);
        let mut hasher = crc32fast::Hasher::new_with_initial(crc);
        hasher.update(&self.buf[start + FRAME_HEAD..]);
        self.buf[start + 8..start + 12].copy_from_slice(&hasher.finalize().to_le_bytes());
    }

    fn bytes_field(&mut self, bytes: &[u8]) {
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        self.buf.extend_from_slice(&len.to_le_bytes());
        self.buf.extend_from_slice(bytes);
    }

    /// Adds a record; returns the entry's size. An encoding failure adds nothing.
    pub(crate) fn record(&mut self, record: &ClientRecord) -> anyhow::Result<usize> {
        self.begin();
        let at = self.buf.len();
        self.buf.push(RECORD);
        self.buf.extend_from_slice(&[0; 4]);
        if let Err(e) = serde_json::to_writer(&mut self.buf, record) {
            self.buf.truncate(at);
            return Err(e).with_context(|| format!("encoding client record {}", record.client_id));
        }
        let len = self.buf.len() - at - 5;
        let Ok(len32) = u32::try_from(len) else {
            self.buf.truncate(at);
            bail!("client record {} is too large to store", record.client_id);
        };
        self.buf[at + 1..at + 5].copy_from_slice(&len32.to_le_bytes());
        Ok(len + 5)
    }

    /// Adds a record entry holding `json` as it is, valid or not (for tests).
    #[cfg(feature = "testing")]
    pub(crate) fn raw_record(&mut self, json: &[u8]) {
        self.begin();
        self.buf.push(RECORD);
        self.bytes_field(json);
    }

    /// Adds "the record of `id` is gone"; returns the entry's size.
    pub(crate) fn record_gone(&mut self, id: &str) -> usize {
        self.tagged(RECORD_GONE, id, None)
    }

    /// Adds the secret of `id`; returns the entry's size.
    pub(crate) fn secret(&mut self, id: &str, secret: &str) -> usize {
        self.tagged(SECRET, id, Some(secret.as_bytes()))
    }

    /// Adds "the secret of `id` is gone"; returns the entry's size.
    pub(crate) fn secret_gone(&mut self, id: &str) -> usize {
        self.tagged(SECRET_GONE, id, None)
    }

    /// Adds a one-time key; returns the entry's size.
    pub(crate) fn once(&mut self, key: &str, expires_at: i64) -> usize {
        self.begin();
        let at = self.buf.len();
        self.buf.push(ONCE);
        self.bytes_field(key.as_bytes());
        self.buf.extend_from_slice(&expires_at.to_le_bytes());
        self.buf.len() - at
    }

    fn tagged(&mut self, tag: u8, id: &str, value: Option<&[u8]>) -> usize {
        self.begin();
        let at = self.buf.len();
        self.buf.push(tag);
        self.bytes_field(id.as_bytes());
        if let Some(value) = value {
            self.bytes_field(value);
        }
        self.buf.len() - at
    }
}

/// The size of a secret entry, as [`Frames::secret`] writes it.
pub(crate) fn secret_entry_len(id: &str, secret: &str) -> usize {
    9 + id.len() + secret.len()
}

/// The size of a one-time key entry, as [`Frames::once`] writes it.
pub(crate) fn once_entry_len(key: &str) -> usize {
    13 + key.len()
}

/// The size of a record entry holding `json_len` bytes of JSON.
pub(crate) fn record_entry_len(json_len: usize) -> usize {
    5 + json_len
}

/// What a scan of a whole file found.
pub(crate) struct Scanned<'a> {
    /// The payloads of the valid frames, in order.
    pub(crate) payloads: Vec<&'a [u8]>,
    /// Where the valid frames end.
    pub(crate) end: usize,
    /// Whether bytes after `end` (other than zeros) were dropped as a torn last write.
    pub(crate) torn: bool,
}

/// Why a file cannot be read as a log.
#[derive(Debug)]
pub(crate) enum Unreadable {
    /// Not a log at all (no header).
    NotALog,
    /// A frame in the middle fails its checksum: damage.
    Damaged(String),
}

/// Checks every frame of `bytes` (a whole file).
pub(crate) fn scan(bytes: &[u8]) -> Result<Scanned<'_>, Unreadable> {
    if bytes.len() < HEADER.len() || &bytes[..HEADER.len()] != HEADER {
        return Err(Unreadable::NotALog);
    }
    let mut payloads = Vec::new();
    let mut at = HEADER.len();
    while at < bytes.len() {
        match frame_at(bytes, at) {
            Some(payload) => {
                payloads.push(payload);
                at += FRAME_HEAD + payload.len();
            }
            None if bytes[at..].iter().all(|&b| b == 0) => break,
            None => {
                if let Some(next) = (at + 1..bytes.len()).find(|&p| frame_at(bytes, p).is_some()) {
                    return Err(Unreadable::Damaged(format!(
                        "the frame at byte {at} fails its checksum, and a valid one follows at \
                         byte {next}"
                    )));
                }
                return Ok(Scanned {
                    payloads,
                    end: at,
                    torn: true,
                });
            }
        }
    }
    Ok(Scanned {
        payloads,
        end: at,
        torn: false,
    })
}

/// The payload of a valid frame starting at `at`.
fn frame_at(bytes: &[u8], at: usize) -> Option<&[u8]> {
    let head = bytes.get(at..at + FRAME_HEAD)?;
    if &head[..4] != FRAME_MAGIC {
        return None;
    }
    let len = u32::from_le_bytes(head[4..8].try_into().ok()?) as usize;
    let stored = u32::from_le_bytes(head[8..12].try_into().ok()?);
    let payload = bytes.get(at + FRAME_HEAD..(at + FRAME_HEAD).checked_add(len)?)?;
    let mut hasher = crc32fast::Hasher::new_with_initial(crc32fast::hash(&head[4..8]));
    hasher.update(payload);
    (hasher.finalize() == stored).then_some(payload)
}

/// The entries of a frame's payload, in order.
pub(crate) fn entries(payload: &[u8]) -> Entries<'_> {
    Entries { rest: payload }
}

/// Iterator over the entries of a payload; an entry that does not parse ends it with an error.
pub(crate) struct Entries<'a> {
    rest: &'a [u8],
}

impl<'a> Entries<'a> {
    fn take(&mut self, n: usize) -> anyhow::Result<&'a [u8]> {
        if self.rest.len() < n {
            bail!("an entry is cut short");
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }

    fn field(&mut self) -> anyhow::Result<&'a [u8]> {
        let len = u32::from_le_bytes(self.take(4)?.try_into()?) as usize;
        self.take(len)
    }

    fn text(&mut self) -> anyhow::Result<&'a str> {
        std::str::from_utf8(self.field()?)
            .map_err(|_| anyhow!("an entry holds text that is not UTF-8"))
    }

    fn next_entry(&mut self) -> anyhow::Result<Entry<'a>> {
        let tag = self.take(1)?[0];
        Ok(match tag {
            RECORD => Entry::Record(self.field()?),
            RECORD_GONE => Entry::RecordGone(self.text()?),
            SECRET => Entry::Secret(self.text()?, self.text()?),
            SECRET_GONE => Entry::SecretGone(self.text()?),
            ONCE => {
                let key = self.text()?;
                let expires_at = i64::from_le_bytes(self.take(8)?.try_into()?);
                Entry::Once(key, expires_at)
            }
            other => bail!("unknown entry type {other}"),
        })
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = anyhow::Result<Entry<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let entry = self.next_entry();
        if entry.is_err() {
            self.rest = &[];
        }
        Some(entry)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn file(frames: &Frames) -> Vec<u8> {
        let mut bytes = HEADER.to_vec();
        bytes.extend_from_slice(frames.bytes());
        bytes
    }

    fn two_frames() -> Frames {
        let mut frames = Frames::default();
        frames.secret("a", "secret-a");
        frames.once("k", 7);
        frames.finish();
        frames.secret_gone("a");
        frames.record_gone("b");
        frames.finish();
        frames
    }

    #[test]
    fn entries_read_back_in_order() {
        let bytes = file(&two_frames());
        let scanned = scan(&bytes).unwrap();
        assert!(!scanned.torn);
        assert_eq!(scanned.end, bytes.len());
        let all: Vec<String> = scanned
            .payloads
            .iter()
            .flat_map(|p| entries(p))
            .map(|e| format!("{:?}", e.unwrap()))
            .collect();
        assert_eq!(
            all,
            [
                r#"Secret("a", "secret-a")"#,
                r#"Once("k", 7)"#,
                r#"SecretGone("a")"#,
                r#"RecordGone("b")"#
            ]
        );
    }

    #[test]
    fn a_cut_last_frame_is_a_torn_write() {
        let bytes = file(&two_frames());
        for cut in 1..20 {
            let scanned = scan(&bytes[..bytes.len() - cut]).unwrap();
            assert!(scanned.torn);
            assert_eq!(scanned.payloads.len(), 1);
        }
    }

    #[test]
    fn zeros_after_the_frames_are_space_written_ahead() {
        let mut bytes = file(&two_frames());
        let end = bytes.len();
        bytes.extend_from_slice(&[0; 5000]);
        let scanned = scan(&bytes).unwrap();
        assert!(!scanned.torn);
        assert_eq!((scanned.end, scanned.payloads.len()), (end, 2));
        // A torn append into that space: cut off.
        bytes[end..end + 6].copy_from_slice(b"DCRf\x09\x00");
        let scanned = scan(&bytes).unwrap();
        assert!(scanned.torn);
        assert_eq!((scanned.end, scanned.payloads.len()), (end, 2));
    }

    #[test]
    fn a_bad_frame_before_a_good_one_is_damage() {
        let mut bytes = file(&two_frames());
        bytes[HEADER.len() + FRAME_HEAD + 3] ^= 1;
        assert!(matches!(scan(&bytes), Err(Unreadable::Damaged(_))));
    }

    #[test]
    fn a_file_without_the_header_is_not_a_log() {
        assert!(matches!(scan(b"DCRLOG"), Err(Unreadable::NotALog)));
        assert!(matches!(
            scan(b"PK\x03\x04 not a log at all"),
            Err(Unreadable::NotALog)
        ));
    }
}
