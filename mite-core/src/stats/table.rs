//! Text tables in PrettyTable's default style, as mite's benchmark report prints them.
//!
//! Borders of `+`, `-` and `|`, one space of padding, every cell centred the way Python's
//! `str.center` centres (an odd leftover space goes right of odd-length text and left of
//! even-length text). ANSI colour codes take no width.

/// A table with a header row and data rows, each row optionally followed by a rule.
pub(crate) struct Table {
    header: Vec<String>,
    rows: Vec<(Vec<String>, bool)>,
}

impl Table {
    pub(crate) fn new(header: Vec<String>) -> Self {
        Table {
            header,
            rows: Vec::new(),
        }
    }

    /// Adds a row; `divider` draws a rule under it (ignored for the last row, which is
    /// followed by the bottom border anyway, as in PrettyTable).
    pub(crate) fn add_row(&mut self, cells: Vec<String>, divider: bool) {
        self.rows.push((cells, divider));
    }

    /// The table's lines joined by newlines, without a trailing newline.
    pub(crate) fn render(&self) -> String {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|col| {
                std::iter::once(&self.header)
                    .chain(self.rows.iter().map(|(cells, _)| cells))
                    .filter_map(|cells| cells.get(col))
                    .map(|cell| display_width(cell))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let rule = rule(&widths);
        let mut lines = vec![rule.clone(), row(&self.header, &widths), rule.clone()];
        for (i, (cells, divider)) in self.rows.iter().enumerate() {
            lines.push(row(cells, &widths));
            if *divider && i + 1 < self.rows.len() {
                lines.push(rule.clone());
            }
        }
        lines.push(rule);
        lines.join("\n")
    }
}

fn rule(widths: &[usize]) -> String {
    let mut line = String::from("+");
    for &w in widths {
        line.push_str(&"-".repeat(w + 2));
        line.push('+');
    }
    line
}

fn row(cells: &[String], widths: &[usize]) -> String {
    let mut line = String::from("|");
    for (i, &w) in widths.iter().enumerate() {
        let cell = cells.get(i).map_or("", String::as_str);
        line.push(' ');
        line.push_str(&center(cell, w));
        line.push_str(" |");
    }
    line
}

fn center(text: &str, width: usize) -> String {
    let len = display_width(text);
    let excess = width.saturating_sub(len);
    let left = if excess % 2 == 1 && len % 2 == 0 {
        excess / 2 + 1
    } else {
        excess / 2
    };
    format!("{}{text}{}", " ".repeat(left), " ".repeat(excess - left))
}

/// Characters outside ANSI SGR sequences (`ESC [ ... m`).
fn display_width(text: &str) -> usize {
    let mut width = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            width += 1;
        }
    }
    width
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn cells_are_centred_like_str_center() {
        assert_eq!(center("Max", 8), "  Max   ");
        assert_eq!(center("60.00%", 11), "   60.00%  ");
        assert_eq!(center("Avg", 7), "  Avg  ");
        assert_eq!(center("", 3), "   ");
    }

    #[test]
    fn colour_codes_take_no_width() {
        assert_eq!(display_width("\u{1b}[91m55.00ms\u{1b}[0m"), 7);
    }

    #[test]
    fn a_table_has_borders_header_rule_and_dividers() {
        let mut table = Table::new(strings(&["", "Avg"]));
        table.add_row(strings(&["Latency", "1.00ms"]), true);
        table.add_row(strings(&["Test Thresholds", "-"]), false);
        assert_eq!(
            table.render(),
            "+-----------------+--------+\n\
             |                 |  Avg   |\n\
             +-----------------+--------+\n\
             |     Latency     | 1.00ms |\n\
             +-----------------+--------+\n\
             | Test Thresholds |   -    |\n\
             +-----------------+--------+"
        );
    }

    #[test]
    fn a_divider_on_the_last_row_is_not_doubled() {
        let mut table = Table::new(strings(&["a"]));
        table.add_row(strings(&["b"]), true);
        assert_eq!(table.render(), "+---+\n| a |\n+---+\n| b |\n+---+");
    }
}
