//! The typed arguments of the sorted-set commands whose options need more than a
//! glance. Each checks what it reads in the order Redis does, so the same error wins.

use super::*;

/// The side of ZMPOP and BZMPOP (see `MpopArgs`): MIN or MAX, as "is MAX".
pub fn min_max(word: &[u8]) -> Option<bool> {
    if is(word, "min") {
        Some(false)
    } else if is(word, "max") {
        Some(true)
    } else {
        None
    }
}
