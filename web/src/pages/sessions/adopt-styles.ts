/**
 * xterm.js puts its geometry and colours in <style> elements it creates (at once and later, as the
 * font is measured), which the dashboard's Content-Security-Policy refuses (no inline styles).
 * While a terminal is shown, a <style> element created through `document.createElement` is an
 * inert stand-in whose text goes into a constructed stylesheet adopted by the document, which the
 * policy allows. Nothing else on the page creates <style> elements. Returns the undo.
 */
let active = 0;
let original: Document['createElement'] | null = null;
const sheets = new Set<CSSStyleSheet>();

function standIn(doc: Document, create: Document['createElement']): HTMLElement {
  // A <template> is never rendered and applies nothing; xterm only sets its text and removes it.
  const el = create.call(doc, 'template');
  const sheet = new CSSStyleSheet();
  sheets.add(sheet);
  doc.adoptedStyleSheets = [...doc.adoptedStyleSheets, sheet];
  let text = '';
  Object.defineProperty(el, 'textContent', {
    get: () => text,
    set: (v: string | null) => {
      text = v ?? '';
      sheet.replaceSync(text);
    },
  });
  return el;
}

export function adoptTerminalStyles(): () => void {
  if (active++ === 0) {
    const create = document.createElement;
    original = create;
    document.createElement = function (this: Document, tag: string, options?: ElementCreationOptions) {
      return tag.toLowerCase() === 'style' ? standIn(this, create) : create.call(this, tag, options);
    } as Document['createElement'];
  }
  let undone = false;
  return () => {
    if (undone) return;
    undone = true;
    if (--active > 0 || !original) return;
    document.createElement = original;
    original = null;
    document.adoptedStyleSheets = document.adoptedStyleSheets.filter((s) => !sheets.has(s));
    sheets.clear();
  };
}
