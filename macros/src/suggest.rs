//! "Did you mean" suggestions for misspelled argument names and values.

/// The known name closest to `typo`, if it is close enough to be a plausible misspelling.
pub(crate) fn nearest<'a>(typo: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|candidate| (edit_distance(typo, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len().max(typo.len()) / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// ` (did you mean `near`?)` when a known name is close to `typo`, else nothing: to put after
/// the unknown name in a message.
pub(crate) fn did_you_mean(typo: &str, known: &[&str]) -> String {
    nearest(typo, known)
        .map(|near| format!(" (did you mean `{near}`?)"))
        .unwrap_or_default()
}

/// Optimal-string-alignment distance: like Levenshtein, but a swap of two neighbours costs one,
/// the commonest typo.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let known = ["service_name", "sampler", "ratio", "endpoint"];
        assert_eq!(nearest("servce_name", &known), Some("service_name"));
        assert_eq!(nearest("sampeler", &known), Some("sampler"));
        assert_eq!(nearest("ratoi", &known), Some("ratio"));
        assert_eq!(nearest("completely_else", &known), None);
    }
}
