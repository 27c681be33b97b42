/* Time bank pages: the membership fee follows the tier, the payment code's countdown and copy
   button, the till's camera scan. Kept out of the templates so that the Content-Security-Policy
   can forbid inline script (huzhu.core.middleware). Localized texts come in data- attributes. */
(function () {
  "use strict";

  function memberForm() {
    var tier = document.getElementById("id_tier"), amount = document.getElementById("id_amount");
    if (!tier || !amount || !document.getElementById("member-form")) return;
    var fees = {};
    (tier.getAttribute("data-fees") || "").split(",").forEach(function (p) {
      var kv = p.split(":");
      if (kv.length === 2) fees[kv[0]] = kv[1];
    });
    tier.addEventListener("change", function () { if (fees[tier.value]) amount.value = fees[tier.value]; });
  }

  function payCode() {
    var box = document.getElementById("paycode");
    if (!box) return;
    var left = parseInt(box.dataset.refresh, 10);
    var seconds = document.getElementById("seconds");
    var tick = function () {
      seconds.textContent = left;
      if (left <= 0) { window.location.reload(); return; }
      left -= 1;
      window.setTimeout(tick, 1000);
    };
    tick();
    var copy = document.getElementById("copy-code");
    if (copy && navigator.clipboard) {
      copy.hidden = false;
      copy.addEventListener("click", function () {
        navigator.clipboard.writeText(document.getElementById("pay-code").textContent.trim());
        copy.textContent = copy.dataset.copied;
      });
    }
  }

  function till() {
    var button = document.getElementById("scan-button");
    var video = document.getElementById("scan-video");
    var status = document.getElementById("scan-status");
    var field = document.getElementById("id_token");
    if (!button || !video || !status || !field) return;
    if (!("BarcodeDetector" in window) || !navigator.mediaDevices) {
      status.textContent = status.dataset.unsupported;
      return;
    }
    button.hidden = false;
    var stream = null;
    var stop = function () {
      if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
      video.hidden = true;
    };
    button.addEventListener("click", function () {
      var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (s) {
        stream = s;
        video.srcObject = s;
        video.hidden = false;
        video.play();
        status.textContent = status.dataset.aim;
        var scan = function () {
          if (!stream) { return; }
          detector.detect(video).then(function (codes) {
            if (codes.length) {
              field.value = codes[0].rawValue;
              stop();
              status.textContent = status.dataset.found;
              document.getElementById("id_purchase").focus();
            } else {
              window.setTimeout(scan, 250);
            }
          }).catch(function () { window.setTimeout(scan, 500); });
        };
        scan();
      }).catch(function () {
        status.textContent = status.dataset.noCamera;
      });
    });
  }

  memberForm();
  payCode();
  till();
})();
