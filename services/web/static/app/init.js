// Starts GOV.UK Frontend's components. An external file, so the page needs no inline script
// beyond the template's one-line js-enabled switch, which carries the CSP nonce.
import { initAll } from "../govuk/govuk-frontend.min.js";

initAll();
