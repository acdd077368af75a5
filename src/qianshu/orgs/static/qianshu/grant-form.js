/* 授权用印 form: the legal representative's phone is asked for only when the chosen seal needs
 * the legal representative's consent (the seal ids come from the page's JSON data element).
 * Without script the phone field is always shown and the server decides. */
const data = document.getElementById("legal-rep-seals");
const select = document.getElementById("id_seal");
const box = document.getElementById("legal-rep-phone");

if (data && select && box) {
  const ids = JSON.parse(data.textContent).map(String);
  const update = () => {
    box.hidden = !ids.includes(select.value);
  };
  select.addEventListener("change", update);
  update();
}
