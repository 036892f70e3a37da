//! Terminal tables that fit the width: each column says how it may shrink (wrap at
//! spaces or commas, or be cut in the middle) and when it may be dropped. A table
//! that is too wide first drops the cheapest columns while keeping its borders, then
//! goes borderless (two spaces between columns), then drops the rest in order, and
//! finally shrinks what is left to each column's minimum. Colour is applied after the
//! layout, so it never counts towards a width.

use super::style::{width, Paint, Term};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shrink {
    /// Never narrower than its widest value.
    No,
    /// Wrapped onto more lines at spaces and commas (words longer than the width are
    /// broken).
    Wrap,
    /// Cut in the middle with an ellipsis (addresses keep their port visible).
    Cut,
}

#[derive(Clone, Debug)]
pub struct Column {
    pub header: &'static str,
    pub shrink: Shrink,
    /// The narrowest it may become.
    pub min: usize,
    /// 0: never dropped; otherwise columns are dropped in rising order.
    pub drop: u8,
    pub right: bool,
}

impl Column {
    pub fn new(header: &'static str) -> Column {
        Column {
            header,
            shrink: Shrink::No,
            min: 0,
            drop: 0,
            right: false,
        }
    }
    pub fn wrap(mut self, min: usize) -> Column {
        self.shrink = Shrink::Wrap;
        self.min = min;
        self
    }
    pub fn cut(mut self, min: usize) -> Column {
        self.shrink = Shrink::Cut;
        self.min = min;
        self
    }
    pub fn drop(mut self, order: u8) -> Column {
        self.drop = order;
        self
    }
    pub fn right(mut self) -> Column {
        self.right = true;
        self
    }
}

/// One cell: its text, and the colour of the whole cell or of each space-separated
/// word (finding ids by severity).
#[derive(Clone, Debug, Default)]
pub struct Cell {
    pub text: String,
    pub paint: Option<Paint>,
    pub word_paint: Vec<(String, Paint)>,
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell {
            text,
            ..Cell::default()
        }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::from(text.to_string())
    }
}

impl Cell {
    pub fn painted(text: impl Into<String>, paint: Option<Paint>) -> Cell {
        Cell {
            text: text.into(),
            paint,
            word_paint: Vec::new(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Border {
    /// ┌─┬─┐ corners.
    Sharp,
    /// ╭─┬─╮ corners.
    Rounded,
}

pub struct Grid {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
    pub border: Border,
    /// Columns that may be dropped (in their order) while the borders stay.
    pub drops_with_borders: usize,
}

/// The chosen layout: which columns, how wide, with borders or not.
#[derive(Debug, PartialEq, Eq)]
struct Layout {
    visible: Vec<usize>,
    widths: Vec<usize>,
    bordered: bool,
}

fn overhead(n: usize, bordered: bool) -> usize {
    if bordered {
        3 * n + 1
    } else {
        2 * n.saturating_sub(1)
    }
}

impl Grid {
    pub fn new(columns: Vec<Column>, border: Border) -> Grid {
        Grid {
            columns,
            rows: Vec::new(),
            border,
            drops_with_borders: 0,
        }
    }

    pub fn row(&mut self, cells: Vec<Cell>) {
        debug_assert_eq!(cells.len(), self.columns.len());
        self.rows.push(cells);
    }

    /// Natural width of each column: its header and its widest line.
    fn natural(&self) -> Vec<usize> {
        self.columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                self.rows
                    .iter()
                    .flat_map(|r| r[i].text.lines())
                    .map(width)
                    .chain(std::iter::once(width(c.header)))
                    .max()
                    .unwrap_or(0)
            })
            .collect()
    }

    fn layout(&self, limit: Option<usize>) -> Layout {
        let natural = self.natural();
        let all: Vec<usize> = (0..self.columns.len()).collect();
        let Some(limit) = limit else {
            return Layout {
                widths: natural,
                visible: all,
                bordered: true,
            };
        };
        // The hard minimum: what a column may be squeezed to at all.
        let hard_min = |i: usize| match self.columns[i].shrink {
            Shrink::No => natural[i],
            _ => self.columns[i]
                .min
                .max(width(self.columns[i].header))
                .min(natural[i]),
        };
        // The comfortable minimum: no word broken, an IPv4 address and port whole.
        // Columns are dropped before any is squeezed below it.
        let soft_min = |i: usize| match self.columns[i].shrink {
            Shrink::No => natural[i],
            Shrink::Cut => natural[i].min(21).max(hard_min(i)),
            Shrink::Wrap => self
                .rows
                .iter()
                .flat_map(|r| r[i].text.split([' ', ',']))
                .map(|w| width(w) + 1)
                .max()
                .unwrap_or(0)
                .min(natural[i])
                .max(hard_min(i)),
        };
        let mut order: Vec<usize> = all
            .iter()
            .copied()
            .filter(|&i| self.columns[i].drop > 0)
            .collect();
        order.sort_by_key(|&i| self.columns[i].drop);
        let visible_after = |k: usize| -> Vec<usize> {
            all.iter()
                .copied()
                .filter(|i| !order[..k].contains(i))
                .collect()
        };
        let needed = |vis: &[usize], bordered: bool, min: &dyn Fn(usize) -> usize| -> usize {
            vis.iter().map(|&i| min(i)).sum::<usize>() + overhead(vis.len(), bordered)
        };
        let plans: Vec<(usize, bool)> = (0..=self.drops_with_borders.min(order.len()))
            .map(|k| (k, true))
            .chain((0..=order.len()).map(|k| (k, false)))
            .collect();
        let mins: [&dyn Fn(usize) -> usize; 2] = [&soft_min, &hard_min];
        let chosen = mins.iter().find_map(|min| {
            plans.iter().find_map(|&(k, bordered)| {
                let vis = visible_after(k);
                (needed(&vis, bordered, *min) <= limit).then_some((vis, bordered, *min))
            })
        });
        let (visible, bordered, min_of) =
            chosen.unwrap_or_else(|| (visible_after(order.len()), false, &hard_min));
        // Shrink the widest shrinkable column one step at a time until it fits.
        let mut widths: Vec<usize> = visible.iter().map(|&i| natural[i]).collect();
        let room = limit.saturating_sub(overhead(visible.len(), bordered));
        while widths.iter().sum::<usize>() > room {
            let pick = (0..visible.len())
                .filter(|&j| widths[j] > min_of(visible[j]))
                .max_by_key(|&j| (widths[j] - min_of(visible[j]), widths[j]));
            match pick {
                Some(j) => widths[j] -= 1,
                None => break,
            }
        }
        Layout {
            visible,
            widths,
            bordered,
        }
    }

    /// The table as text, fitted to `term.width`, coloured when `term.color`.
    pub fn render(&self, term: &Term) -> String {
        let layout = self.layout(term.width);
        let mut out = String::new();
        let b = Borders::of(self.border, term.unicode);
        let hline = |out: &mut String, l: &str, m: &str, r: &str| {
            if !layout.bordered {
                return;
            }
            out.push_str(l);
            for (j, w) in layout.widths.iter().enumerate() {
                if j > 0 {
                    out.push_str(m);
                }
                out.push_str(&b.h.repeat(w + 2));
            }
            out.push_str(r);
            out.push('\n');
        };
        hline(&mut out, b.tl, b.tm, b.tr);
        let header: Vec<Cell> = self
            .columns
            .iter()
            .map(|c| Cell::painted(c.header, Some(Paint::Bold)))
            .collect();
        self.write_row(&mut out, &header, &layout, &b, term);
        hline(&mut out, b.ml, b.mm, b.mr);
        for row in &self.rows {
            self.write_row(&mut out, row, &layout, &b, term);
        }
        hline(&mut out, b.bl, b.bm, b.br);
        out
    }

    /// Writes one row (as many lines as its tallest cell) straight into `out`.
    fn write_row(&self, out: &mut String, row: &[Cell], layout: &Layout, b: &Borders, term: &Term) {
        let cells: Vec<Lines<'_>> = layout
            .visible
            .iter()
            .zip(&layout.widths)
            .map(|(&i, &w)| fit_cell(&row[i].text, self.columns[i].shrink, w, term))
            .collect();
        let height = cells.iter().map(Lines::len).max().unwrap_or(1).max(1);
        for line in 0..height {
            let start = out.len();
            if layout.bordered {
                out.push_str(b.v);
                out.push(' ');
            }
            for (j, (&i, &w)) in layout.visible.iter().zip(&layout.widths).enumerate() {
                if j > 0 {
                    out.push_str(if layout.bordered { " " } else { "  " });
                    if layout.bordered {
                        out.push_str(b.v);
                        out.push(' ');
                    }
                }
                let text = cells[j].get(line);
                let pad = w.saturating_sub(width(text));
                if self.columns[i].right {
                    push_spaces(out, pad);
                    push_painted(out, text, &row[i], term);
                } else {
                    push_painted(out, text, &row[i], term);
                    push_spaces(out, pad);
                }
            }
            if layout.bordered {
                out.push(' ');
                out.push_str(b.v);
            } else {
                let kept = out[start..].trim_end().len();
                out.truncate(start + kept);
            }
            out.push('\n');
        }
    }
}

fn push_spaces(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// `text` in its cell's colour (when the terminal has colour).
fn push_painted(out: &mut String, text: &str, cell: &Cell, term: &Term) {
    if !term.color || (cell.paint.is_none() && cell.word_paint.is_empty()) {
        out.push_str(text);
    } else {
        out.push_str(&paint_cell(text, cell, term));
    }
}

fn paint_cell(text: &str, cell: &Cell, term: &Term) -> String {
    if !term.color {
        return text.to_string();
    }
    if let Some(p) = cell.paint {
        return term.paint(text, p);
    }
    if cell.word_paint.is_empty() {
        return text.to_string();
    }
    // Word by word: separators (spaces, commas) stay as they are.
    let mut out = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if !word.is_empty() {
            let p = cell
                .word_paint
                .iter()
                .find(|(w, _)| w == word)
                .map(|(_, p)| *p);
            out.push_str(&term.paint_opt(word, p));
            word.clear();
        }
    };
    for c in text.chars() {
        if c == ' ' || c == ',' {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// The lines of a cell at width `w`: most cells are one line that fits, kept as it is.
enum Lines<'a> {
    One(&'a str),
    Many(Vec<String>),
}

impl Lines<'_> {
    fn len(&self) -> usize {
        match self {
            Lines::One(_) => 1,
            Lines::Many(v) => v.len(),
        }
    }

    /// Line `i`, empty below the last.
    fn get(&self, i: usize) -> &str {
        match self {
            Lines::One(s) if i == 0 => s,
            Lines::One(_) => "",
            Lines::Many(v) => v.get(i).map_or("", String::as_str),
        }
    }
}

/// The lines of a cell at width `w`.
fn fit_cell<'a>(text: &'a str, shrink: Shrink, w: usize, term: &Term) -> Lines<'a> {
    // One line (`lines()` would give `text` itself) that fits.
    if !text.contains('\n') && width(text) <= w {
        return Lines::One(text);
    }
    let mut lines = Vec::new();
    for line in text.lines() {
        if width(line) <= w {
            lines.push(line.to_string());
            continue;
        }
        match shrink {
            Shrink::No => lines.push(line.to_string()),
            Shrink::Cut => lines.push(cut_middle(line, w, term.ellipsis())),
            Shrink::Wrap => lines.extend(wrap(line, w)),
        }
    }
    if lines.is_empty() {
        lines.push(String::new());
    }
    Lines::Many(lines)
}

/// `s` cut to `w` characters, its middle replaced by `mark`.
pub fn cut_middle(s: &str, w: usize, mark: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= w {
        return s.to_string();
    }
    if w <= 1 {
        return mark.chars().take(w).collect();
    }
    let keep = w - 1;
    let tail = keep / 2;
    let head = keep - tail;
    let mut out: String = chars[..head].iter().collect();
    out.push_str(mark);
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// `s` wrapped at spaces and after commas into lines of at most `w` characters.
pub fn wrap(s: &str, w: usize) -> Vec<String> {
    let w = w.max(1);
    // Words keep a trailing comma; spaces separate.
    let mut words: Vec<String> = Vec::new();
    for part in s.split(' ').filter(|p| !p.is_empty()) {
        let mut rest = part;
        while let Some(i) = rest.find(',') {
            words.push(rest[..=i].to_string());
            rest = &rest[i + 1..];
        }
        if !rest.is_empty() {
            words.push(rest.to_string());
        }
    }
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in words {
        let mut word = word;
        loop {
            let sep = usize::from(!cur.is_empty() && !cur.ends_with(','));
            if width(&cur) + sep + width(&word) <= w {
                if sep == 1 {
                    cur.push(' ');
                }
                cur.push_str(&word);
                break;
            }
            if !cur.is_empty() {
                lines.push(std::mem::take(&mut cur));
                continue;
            }
            // A word longer than a line: break it.
            let head: String = word.chars().take(w).collect();
            word = word.chars().skip(w).collect();
            lines.push(head);
            if word.is_empty() {
                break;
            }
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

struct Borders {
    h: &'static str,
    v: &'static str,
    tl: &'static str,
    tm: &'static str,
    tr: &'static str,
    ml: &'static str,
    mm: &'static str,
    mr: &'static str,
    bl: &'static str,
    bm: &'static str,
    br: &'static str,
}

impl Borders {
    fn of(border: Border, unicode: bool) -> Borders {
        if !unicode {
            return Borders {
                h: "-",
                v: "|",
                tl: "+",
                tm: "+",
                tr: "+",
                ml: "+",
                mm: "+",
                mr: "+",
                bl: "+",
                bm: "+",
                br: "+",
            };
        }
        let (tl, tr, bl, br) = match border {
            Border::Sharp => ("┌", "┐", "└", "┘"),
            Border::Rounded => ("╭", "╮", "╰", "╯"),
        };
        Borders {
            h: "─",
            v: "│",
            tl,
            tm: "┬",
            tr,
            ml: "├",
            mm: "┼",
            mr: "┤",
            bl,
            bm: "┴",
            br,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Grid {
        let mut g = Grid::new(
            vec![
                Column::new("ID"),
                Column::new("ADDRESS").cut(12),
                Column::new("PKTS").drop(1),
                Column::new("NOTES").wrap(8).drop(2),
            ],
            Border::Sharp,
        );
        g.drops_with_borders = 1;
        g.row(vec![
            "1".into(),
            "198.51.100.10:52750".into(),
            "5/6".into(),
            "stall.first_byte rst.client".into(),
        ]);
        g
    }

    fn term(width: Option<usize>, unicode: bool) -> Term {
        Term {
            color: false,
            unicode,
            width,
        }
    }

    fn widest(s: &str) -> usize {
        s.lines().map(width).max().unwrap_or(0)
    }

    #[test]
    fn unlimited_is_the_natural_table() {
        let s = grid().render(&term(None, true));
        assert_eq!(
            s,
            "┌────┬─────────────────────┬──────┬─────────────────────────────┐\n\
             │ ID │ ADDRESS             │ PKTS │ NOTES                       │\n\
             ├────┼─────────────────────┼──────┼─────────────────────────────┤\n\
             │ 1  │ 198.51.100.10:52750 │ 5/6  │ stall.first_byte rst.client │\n\
             └────┴─────────────────────┴──────┴─────────────────────────────┘\n"
        );
    }

    #[test]
    fn narrower_drops_then_goes_borderless_then_wraps_and_cuts() {
        for w in [30, 40, 50, 60, 66] {
            let s = grid().render(&term(Some(w), true));
            assert!(widest(&s) <= w, "width {w}:\n{s}");
        }
        // 60: borders kept, NOTES wrapped at a space rather than a column dropped.
        let s = grid().render(&term(Some(60), true));
        assert!(s.contains("PKTS") && s.contains('│'), "{s}");
        assert!(
            s.lines()
                .any(|l| l.contains("stall.first_byte ") && !l.contains("rst.client")),
            "{s}"
        );
        // 50: PKTS dropped, the borders kept.
        let s = grid().render(&term(Some(50), true));
        assert!(
            !s.contains("PKTS") && s.contains('│') && s.contains("rst.client"),
            "{s}"
        );
        // 40: borderless, NOTES dropped before the address is cut.
        let s = grid().render(&term(Some(40), true));
        assert!(
            !s.contains('│') && !s.contains("NOTES") && s.contains("198.51.100.10:52750"),
            "{s}"
        );
        // 20: the address cut in the middle, the port still there.
        let s = grid().render(&term(Some(20), false));
        assert!(
            widest(&s) <= 20 && s.contains('~') && s.contains("52750"),
            "{s}"
        );
    }

    #[test]
    fn ascii_borders_without_unicode() {
        let s = grid().render(&term(None, false));
        assert!(s.starts_with("+----+"), "{s}");
        assert!(s.is_ascii());
    }

    #[test]
    fn colour_does_not_move_columns() {
        let mut g = grid();
        g.rows[0][0].paint = Some(Paint::Red);
        let plain = g.render(&term(None, true));
        let coloured = g.render(&Term {
            color: true,
            ..term(None, true)
        });
        assert_ne!(plain, coloured);
        let stripped: String = strip(&coloured);
        assert_eq!(stripped, plain);
    }

    fn strip(s: &str) -> String {
        let mut out = String::new();
        let mut esc = false;
        for c in s.chars() {
            if esc {
                esc = !c.is_ascii_alphabetic();
            } else if c == '\x1b' {
                esc = true;
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn wrapping_and_cutting() {
        assert_eq!(wrap("a,b,c dd", 4), vec!["a,b,", "c dd"]);
        assert_eq!(wrap("abcdefgh", 3), vec!["abc", "def", "gh"]);
        assert_eq!(cut_middle("198.51.100.10:52750", 12, "…"), "198.51…52750");
        assert_eq!(cut_middle("short", 12, "…"), "short");
    }
}
