// The process studio's modeller page: camunda-bpmn-js (bpmn-js with the Camunda 7 properties
// panel) and dmn-js, wired to the studio's JSON routes. No inline script: the page passes its
// data in data-* attributes and a JSON <script type="application/json"> block.
// Each stylesheet by name rather than camunda-platform-modeler.css: that one pulls in the icon
// font as a data: URI, which the CSP (font-src 'self') refuses; bpmn.css loads it as a file.
import "camunda-bpmn-js/dist/assets/diagram-js.css";
import "camunda-bpmn-js/dist/assets/bpmn-js.css";
import "camunda-bpmn-js/dist/assets/bpmn-font/css/bpmn.css";
import "camunda-bpmn-js/dist/assets/properties-panel.css";
import "camunda-bpmn-js/dist/assets/element-templates.css";
import "camunda-bpmn-js/dist/assets/popup-menu.css";
import "dmn-js/dist/assets/diagram-js.css";
import "dmn-js/dist/assets/dmn-js-shared.css";
import "dmn-js/dist/assets/dmn-js-drd.css";
import "dmn-js/dist/assets/dmn-js-decision-table.css";
import "dmn-js/dist/assets/dmn-js-decision-table-controls.css";
import "dmn-js/dist/assets/dmn-js-literal-expression.css";
import "dmn-js/dist/assets/dmn-js-boxed-expression.css";
import "dmn-js/dist/assets/dmn-js-boxed-expression-controls.css";
import "dmn-js/dist/assets/dmn-font/css/dmn.css";
import "./studio.css";

import BpmnModeler from "camunda-bpmn-js/lib/camunda-platform/Modeler";
import BpmnViewer from "camunda-bpmn-js/lib/camunda-platform/NavigatedViewer";
import DmnModeler from "dmn-js/lib/Modeler";
import { startStudio } from "../studio/page.js";

startStudio({ BpmnModeler, BpmnViewer, DmnModeler });
