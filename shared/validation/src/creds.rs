//! Client-chosen credentials (config `allow_custom_client_creds`).
//!
//! A custom `client_id` ends up in a URL path (`/register/{client_id}`) and in
//! a Secrets Manager secret name, so it is limited to the characters both
//! accept (RFC 3986 unreserved minus `~`, which secret names refuse) and may
//! not be `.`-only (a dot segment). A custom secret must be long enough to resist guessing;
//! errors never echo it.
//!
//! A chosen secret must also pass a strength floor, an estimate rather than a
//! proof (no estimate sees a dictionary word or a leaked password):
//!
//! - **estimated bits** = length × the lesser of two empirical Shannon
//!   entropies (bits per character): of its characters, and of the steps
//!   between neighbours (byte differences, so `abcdef…` and `0123…` count as
//!   one repeated step). At least [`SECRET_MIN_BITS`] = 80.
//! - **no short period**: for no shift `p` up to half the length do at least
//!   [`MAX_PERIOD_MATCH`] = 3/4 of the characters equal the one `p` later
//!   (`password` × 4, `S3cr3t!-` × 4, `abab…`, with or without a stray tail).
//!
//! A random 32-character hex string (128 bits) estimates at 116 bits on
//! average (sd 4.2; the lowest of 300,000 draws 89), a random 43-character
//! base64url string (256 bits) at 208 (the lowest of 50,000 draws 185), and
//! none of them has a period; `"a"` × 32 estimates at 0, `"password"` × 4 at
//! 88 but has period 8.

use crate::error::MetadataError;
use crate::limits::{CLIENT_ID_MAX, SECRET_MAX, SECRET_MIN};

/// Fewest estimated bits (see the module doc) of a client-chosen secret.
pub const SECRET_MIN_BITS: f64 = 80.0;
/// Largest share of characters equal to the one a short shift later.
pub const MAX_PERIOD_MATCH: f64 = 0.75;

/// Checks a client-chosen `client_id` (with `allow_custom_client_creds`).
pub fn validate_custom_client_id(client_id: &str) -> Result<(), MetadataError> {
    let unreserved = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    let ok = (1..=CLIENT_ID_MAX).contains(&client_id.len())
        && client_id.chars().all(unreserved)
        && !client_id.chars().all(|c| c == '.');
    if ok {
        Ok(())
    } else {
        Err(MetadataError::metadata(
            "client_id",
            format!("must be 1 to {CLIENT_ID_MAX} characters of A-Z a-z 0-9 . _ - (not only dots)"),
        ))
    }
}

/// Checks a client-chosen `client_secret` (with `allow_custom_client_creds`).
pub fn validate_custom_client_secret(secret: &str) -> Result<(), MetadataError> {
    let ok = (SECRET_MIN..=SECRET_MAX).contains(&secret.len())
        && secret.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if !ok {
        return Err(MetadataError::metadata(
            "client_secret",
            format!(
                "must be {SECRET_MIN} to {SECRET_MAX} printable ASCII characters without spaces"
            ),
        ));
    }
    if estimated_bits(secret) < SECRET_MIN_BITS || repeats_itself(secret) {
        return Err(MetadataError::metadata(
            "client_secret",
            format!(
                "too easy to guess: it needs at least {SECRET_MIN_BITS} estimated bits and no \
                 repeating pattern; draw it from a random source (e.g. 32 random bytes, base64url)"
            ),
        ));
    }
    Ok(())
}

/// The estimated bits of the module doc: length × min(entropy of the
/// characters, entropy of the steps between neighbours).
pub fn estimated_bits(secret: &str) -> f64 {
    let bytes = secret.as_bytes();
    let steps: Vec<u8> = bytes.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
    bytes.len() as f64 * shannon(bytes).min(shannon(&steps))
}

/// Empirical Shannon entropy of a byte sequence, in bits per byte.
fn shannon(bytes: &[u8]) -> f64 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0usize; 256];
    for &b in bytes {
        counts[usize::from(b)] += 1;
    }
    let n = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// Whether some shift up to half the length maps at least [`MAX_PERIOD_MATCH`]
/// of the characters onto equal ones.
fn repeats_itself(secret: &str) -> bool {
    let b = secret.as_bytes();
    (1..=b.len() / 2).any(|p| {
        let same = b.iter().zip(&b[p..]).filter(|(x, y)| x == y).count();
        same as f64 >= MAX_PERIOD_MATCH * (b.len() - p) as f64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_client_ids() {
        for ok in [
            "a",
            "my-client_1.0-beta",
            &"x".repeat(CLIENT_ID_MAX),
            "a.b",
            ".hidden",
        ] {
            assert!(validate_custom_client_id(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a b",
            "ü",
            "a%2F",
            "a?b",
            "tilde~",
            &"x".repeat(CLIENT_ID_MAX + 1),
        ] {
            let e = validate_custom_client_id(bad).unwrap_err();
            assert!(e.description.starts_with("client_id: "), "{bad}");
        }
    }

    /// 32 hex and 43 base64url characters drawn once from a CSPRNG.
    const RANDOM_HEX: &str = "5e0976876bb663898df94164b02409a1";
    const RANDOM_B64: &str = "x5qpYrcH8Lj2Z62yojU5MfUEHNYHQsTUJaph4QvYJGc";

    #[test]
    fn custom_client_secrets_never_echoed() {
        for good in [
            RANDOM_HEX,
            RANDOM_B64,
            "a-long-client-chosen-secret-of-40-chars!",
        ] {
            assert!(validate_custom_client_secret(good).is_ok(), "{good}");
        }
        let long: String = RANDOM_B64.chars().cycle().take(SECRET_MAX).collect();
        let with_space = format!("{RANDOM_B64} tail");
        let non_ascii = format!("{RANDOM_B64}é");
        for bad in [
            "short-secret",
            &with_space,
            &non_ascii,
            &format!("{long}x"),
            &format!("{RANDOM_B64}\n"),
        ] {
            let e = validate_custom_client_secret(bad).unwrap_err();
            assert!(e.description.starts_with("client_secret: "));
            assert!(!e.description.contains(bad));
            assert!(!e.description.contains("short"));
        }
    }

    #[test]
    fn weak_chosen_secrets_are_refused() {
        let weak = [
            "a".repeat(32),
            "x".repeat(SECRET_MAX),
            "password".repeat(4),
            format!("{}1", "password".repeat(4)),
            "S3cr3t!-".repeat(4),
            "abcdefghijklmnopqrstuvwxyz012345".into(),
            "0123456789abcdef".repeat(2),
            "ab".repeat(20),
            "Tr0ub4dor&3".repeat(3),
        ];
        for bad in &weak {
            let e = validate_custom_client_secret(bad).unwrap_err();
            assert!(
                e.description
                    .starts_with("client_secret: too easy to guess"),
                "{bad}"
            );
            assert!(!e.description.contains(bad.as_str()));
        }
    }

    #[test]
    fn the_estimate_on_both_sides_of_the_floor() {
        assert_eq!(estimated_bits(&"a".repeat(32)), 0.0);
        assert!((estimated_bits(&"password".repeat(4)) - 88.0).abs() < 1e-9);
        assert!(repeats_itself(&"password".repeat(4)));
        assert!(!repeats_itself(RANDOM_HEX) && !repeats_itself(RANDOM_B64));
        assert!(estimated_bits(RANDOM_HEX) > 100.0);
        assert!(estimated_bits(RANDOM_B64) > 180.0);
        // 32 characters over 6 symbols, no period: 32 × log2(6) = 82.7 bits.
        let above = "abcdefbdface".to_owned() + "cebdafecabdf" + "fdbeca" + "ad";
        // 32 characters over 5 symbols: 32 × log2(5) = 74.3 bits.
        let below = "abcdeacebdbdaceadbecebadcabdecea";
        for s in [above.as_str(), below] {
            assert_eq!(s.len(), 32, "{s}");
            assert!(!repeats_itself(s), "{s}");
        }
        let high = estimated_bits(&above);
        let low = estimated_bits(below);
        assert!(high >= SECRET_MIN_BITS, "{high}");
        assert!(low < SECRET_MIN_BITS, "{low}");
        assert!(validate_custom_client_secret(&above).is_ok());
        assert!(validate_custom_client_secret(below).is_err());
    }

    #[test]
    fn a_period_needs_three_quarters_of_matches() {
        // 16 characters, then the same 16 with only the first k kept: k of
        // the 16 pairs at shift 16 match.
        let a = &RANDOM_B64[..16];
        let other = &RANDOM_B64[16..32];
        let repeated = |k: usize| format!("{a}{}{}", &a[..k], &other[k..]);
        assert!(!repeats_itself(&repeated(11)), "11 of 16 is under 3/4");
        assert!(repeats_itself(&repeated(12)), "12 of 16 is 3/4");
    }
}
