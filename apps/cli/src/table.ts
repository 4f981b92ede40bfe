import Table from "cli-table3";

const NO_BORDERS = {
  top: "", "top-mid": "", "top-left": "", "top-right": "",
  bottom: "", "bottom-mid": "", "bottom-left": "", "bottom-right": "",
  left: "", "left-mid": "", mid: "", "mid-mid": "", right: "", "right-mid": "",
  middle: "  ",
};

/** Columns aligned by two spaces, no borders or colours: readable in a terminal, greppable in a log. */
export function renderTable(head: string[], rows: Array<Array<string | number | null | undefined>>): string {
  const table = new Table({ head, chars: NO_BORDERS, style: { head: [], border: [], "padding-left": 0, "padding-right": 0 } });
  for (const row of rows) table.push(row.map((cell) => (cell === null || cell === undefined ? "" : String(cell))));
  return table
    .toString()
    .split("\n")
    .map((line) => line.trimEnd())
    .join("\n");
}

export const isoTime = (at: Date | null | undefined): string => (at ? at.toISOString() : "");
