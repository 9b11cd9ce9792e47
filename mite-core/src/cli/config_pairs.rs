//! `--add-to-config=KEY:VALUE`: the pairs added to the config after the `--config` loader's.

/// An `--add-to-config` value without a `:`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--add-to-config '{0}' is not of the form key:value")]
pub struct ConfigPairError(pub String);

/// Splits each value at its first `:` (the value may hold more, as URLs do).
pub fn config_pairs(values: &[String]) -> Result<Vec<(&str, &str)>, ConfigPairError> {
    values
        .iter()
        .map(|pair| {
            pair.split_once(':')
                .ok_or_else(|| ConfigPairError(pair.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn a_pair_splits_at_its_first_colon_so_urls_survive() {
        let values = strings(&["app_url:http://127.0.0.1:8000/", "empty:"]);
        assert_eq!(
            config_pairs(&values).unwrap(),
            [("app_url", "http://127.0.0.1:8000/"), ("empty", "")]
        );
    }

    #[test]
    fn a_value_without_a_colon_is_an_error_naming_it() {
        let values = strings(&["ok:1", "broken"]);
        let error = config_pairs(&values).unwrap_err();
        assert_eq!(
            error.to_string(),
            "--add-to-config 'broken' is not of the form key:value"
        );
    }
}
