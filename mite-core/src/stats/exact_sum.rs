//! Exact floating-point sums: Python's `math.fsum`, kept as running state.
//!
//! The report's mean is `statistics.fmean` (`fsum(data) / n`) and its standard deviation is
//! computed by Python from exact fractions; to print the same digits we keep sums exactly, as
//! Shewchuk's non-overlapping partials (the algorithm `math.fsum` uses), and round only at the end.

/// A running exact sum of `f64`s; [`ExactSum::value`] is what `math.fsum` returns for the same
/// numbers.
#[derive(Clone, Debug, Default)]
pub(crate) struct ExactSum {
    /// Non-overlapping partials in increasing magnitude; their exact sum is the total so far.
    partials: Vec<f64>,
    /// Sum of the non-finite inputs (they take over the result, as in `fsum`).
    special: f64,
    /// Sum of the infinite inputs, to tell `inf + -inf` (NaN) apart.
    infinities: f64,
    /// The infinity a finite sum overflowed to (`fsum` raises OverflowError there); 0 if none.
    overflow: f64,
}

impl ExactSum {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds `x` exactly.
    pub(crate) fn add(&mut self, x: f64) {
        if self.overflow != 0.0 {
            return;
        }
        let original = x;
        let mut x = x;
        let mut kept = 0;
        for j in 0..self.partials.len() {
            let mut y = self.partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                self.partials[kept] = lo;
                kept += 1;
            }
            x = hi;
        }
        self.partials.truncate(kept);
        if x == 0.0 {
            return;
        }
        if x.is_finite() {
            self.partials.push(x);
        } else if original.is_finite() {
            self.overflow = x;
            self.partials.clear();
        } else {
            if original.is_infinite() {
                self.infinities += original;
            }
            self.special += original;
            self.partials.clear();
        }
    }

    /// The exact partials (empty once a non-finite value was added).
    pub(crate) fn partials(&self) -> &[f64] {
        &self.partials
    }

    /// Whether the sum is still exact and finite.
    pub(crate) fn is_finite(&self) -> bool {
        self.special == 0.0 && self.overflow == 0.0
    }

    /// The sum correctly rounded to the nearest `f64` (ties to even), like `math.fsum`. Where
    /// `fsum` raises (`inf + -inf`, intermediate overflow) this is NaN or infinity.
    pub(crate) fn value(&self) -> f64 {
        if self.special != 0.0 {
            return if self.infinities.is_nan() {
                f64::NAN
            } else {
                self.special
            };
        }
        if self.overflow != 0.0 {
            return self.overflow;
        }
        let p = &self.partials;
        let mut n = p.len();
        if n == 0 {
            return 0.0;
        }
        n -= 1;
        let mut hi = p[n];
        let mut lo = 0.0;
        while n > 0 {
            let x = hi;
            n -= 1;
            let y = p[n];
            hi = x + y;
            lo = y - (hi - x);
            if lo != 0.0 {
                break;
            }
        }
        // Round half to even across partials: if the rest has the same sign as `lo`, the true
        // sum is beyond the halfway point that `hi` was rounded from.
        if n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0)) {
            let y = lo * 2.0;
            let x = hi + y;
            if y == x - hi {
                hi = x;
            }
        }
        hi
    }

    /// The sign of the exact sum (`value` is correctly rounded, so its sign is exact).
    pub(crate) fn signum(&self) -> std::cmp::Ordering {
        self.value()
            .partial_cmp(&0.0)
            .unwrap_or(std::cmp::Ordering::Equal)
    }
}

/// `a * b` as `hi + lo` exactly (barring overflow and underflow).
pub(crate) fn two_product(a: f64, b: f64) -> (f64, f64) {
    let hi = a * b;
    (hi, a.mul_add(b, -hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fsum(values: &[f64]) -> f64 {
        let mut sum = ExactSum::new();
        for &v in values {
            sum.add(v);
        }
        sum.value()
    }

    #[test]
    fn sums_are_exact_where_naive_sums_are_not() {
        // math.fsum([0.1] * 10) == 1.0, sum(...) == 0.9999999999999999
        assert_eq!(fsum(&[0.1; 10]), 1.0);
        assert_eq!(fsum(&[1e100, 1.0, -1e100]), 1.0);
        assert_eq!(fsum(&[]), 0.0);
    }

    #[test]
    fn ties_round_half_to_even_across_partials() {
        // math.fsum([1.0, 2.0**-53, 2.0**-106]) == 1.0000000000000002 (just above the tie)
        let tiny = 2f64.powi(-53);
        assert_eq!(fsum(&[1.0, tiny, 2f64.powi(-106)]), 1.0000000000000002);
        // exactly on the tie: rounds to the even neighbour 1.0
        assert_eq!(fsum(&[1.0, tiny]), 1.0);
        assert_eq!(fsum(&[1.0, tiny, -2f64.powi(-106)]), 1.0);
    }

    #[test]
    fn matches_python_fsum_on_response_times() {
        // math.fsum([0.0123, 0.4567, 1.5e-3, 0.25, 0.1, 0.2, 0.3]) == 1.3205
        assert_eq!(fsum(&[0.0123, 0.4567, 1.5e-3, 0.25, 0.1, 0.2, 0.3]), 1.3205);
    }

    #[test]
    fn non_finite_values_take_over_like_fsum() {
        assert_eq!(fsum(&[1.0, f64::INFINITY, 2.0]), f64::INFINITY);
        assert!(fsum(&[f64::INFINITY, f64::NEG_INFINITY]).is_nan());
        assert!(fsum(&[1.0, f64::NAN]).is_nan());
        assert_eq!(fsum(&[f64::MAX, f64::MAX]), f64::INFINITY);
        assert_eq!(fsum(&[-f64::MAX, -f64::MAX, 1.0]), f64::NEG_INFINITY);
    }

    #[test]
    fn two_product_is_exact() {
        let (hi, lo) = two_product(0.1, 0.1);
        assert_eq!(hi, 0.010000000000000002);
        // float(Fraction(0.1)**2 - Fraction(0.1*0.1)), which is exact
        assert_eq!(lo, -8.326672684688674e-19);
        let mut sum = ExactSum::new();
        sum.add(hi);
        sum.add(lo);
        sum.add(-hi);
        assert_eq!(sum.value(), lo);
    }
}
