// What the site's server-backed boxes (Ask, Can I make this call?) share: making an element, and a call to
// `iamkb serve`'s JSON API that fails with "no API" when the page is not served by it (opened as files, or served
// by a plain static host), so each box can say how to run the same from the command line instead.
(function () {
  "use strict";

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function call(url, init) {
    if (location.protocol === "file:") return Promise.reject(new Error("no API"));
    return fetch(url, init).then(function (resp) {
      var type = resp.headers.get("Content-Type") || "";
      if (type.indexOf("application/json") === -1) throw new Error("no API");
      return resp.json().then(function (body) {
        if (!resp.ok) throw new Error(body.error || ("HTTP " + resp.status));
        return body;
      });
    });
  }

  function noApi(err) {
    return err.message === "no API" || err instanceof TypeError;
  }

  window.iamkbApi = { el: el, call: call, noApi: noApi };
})();
