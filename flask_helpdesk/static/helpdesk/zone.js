// The reader's time zone, for times the server writes (due times, the answer we promise):
// remembered in a cookie that views/locale.py reads when the host does not know the user's zone.
(function () {
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.indexOf("helpdesk_tz=" + encodeURIComponent(zone)) === -1) {
      document.cookie = "helpdesk_tz=" + encodeURIComponent(zone) +
        "; path=/; max-age=31536000; SameSite=Lax";
    }
  } catch (error) { /* an old browser: the calendar's zone is shown, named */ }
})();
