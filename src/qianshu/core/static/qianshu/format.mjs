/* Fills the named placeholders of a translated message: "%(n)s" (the form Django's gettext
 * strings use, e.g. the field editor's) and "{n}" (the signing page's data attributes). A name
 * missing from `values` leaves its placeholder as it is. */
export function format(text, values) {
  return String(text).replace(/%\((\w+)\)s|\{(\w+)\}/g, function (match, percent, brace) {
    const key = percent || brace;
    return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : match;
  });
}
