/* SeeSay's browser side: one live region, one audio player, better labels.
 *
 * Streamlit rebuilds its own elements on every rerun, so everything here is created once in
 * document.body, outside Streamlit's React tree, and only updated afterwards. Python sends
 * commands (announce, clip, config) through SeeSay.run(); every command has an id and an id is
 * never done twice, so a rerun that resends old commands changes nothing.
 *
 * Stable ids (browser tests rely on them):
 *   #seesay-player   the bar at the top of the page (a labelled region, first in tab order)
 *   #seesay-stop     "Stop speaking"
 *   #seesay-replay   "Play answer again"
 *   #seesay-audio    the one audio element, reused for every clip (iPhone needs that)
 *   #seesay-status   the live region (role=status, aria-live=polite)
 *
 * This file is inserted with st.html: DOMPurify removes a script whose text has a less-than
 * sign directly followed by a letter, a slash or an exclamation mark, so keep a space after
 * every less-than comparison and build no markup from strings.
 */
(function () {
  "use strict";
  var VERSION = 5;
  if (window.SeeSay && window.SeeSay.version === VERSION) {
    return;
  }
  // A tenth of a second of silence: played on a tap so iPhone Safari lets this element speak later.
  var SILENCE = "__SEESAY_SILENCE__";  // a data: URL, filled in by ui/browser.py
  // The words this script says or names things with: English until Python sends the page's language's
  // (config.words, from ui/browser.py's browser_words; the catalogue has them all).
  var WORDS = {
    bar: "Answer voice", stop: "Stop speaking", replay: "Play answer again", audio: "SeeSay answer voice",
    stopped: "Stopped.",
    blocked: "Your browser did not let SeeSay speak by itself. " +
             "Press Play answer again, at the top of the page, to hear it.",
    no_sound: "This answer has no sound yet. Use Speak this answer, below it.",
    nothing: "There is no answer to play yet.",
    take_photo: "Take photo", clear_photo: "Clear photo", upload: "Upload a photo",
    choose_file: "Choose a photo file", record: "Record your question", stop_recording: "Stop recording",
    play_recording: "Play your recording", pause_recording: "Pause your recording"
  };

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text) { node.textContent = text; }
    return node;
  }

  // --- the camera: the back lens first ---------------------------------------------------------
  // Streamlit's camera asks for the front (selfie) lens and, on phones, offers "Switch camera". A
  // blind person points the back of the phone at what they want to know about, so SeeSay swaps the
  // two lenses in every camera request: the camera opens on the back lens and "Switch camera" turns
  // to the front one and back again. Installed first, before any camera asks for a stream. Where a
  // device has one camera, the browser uses it whichever way it faces (facingMode is a preference).
  // Only a bare "user" or "environment" (Streamlit's request) is swapped: SeeSay's live camera asks
  // for {ideal: "environment"} itself (ui/assets/live-camera.js).
  var media = navigator.mediaDevices;
  if (media && media.getUserMedia && !media.getUserMedia.seesay) {
    var askCamera = media.getUserMedia.bind(media);
    var backFirst = function (constraints) {
      var video = constraints && constraints.video;
      if (video && typeof video === "object" && (video.facingMode === "user" || video.facingMode === "environment")) {
        var swapped = Object.assign({}, video, {facingMode: video.facingMode === "user" ? "environment" : "user"});
        constraints = Object.assign({}, constraints, {video: swapped});
      }
      return askCamera(constraints);
    };
    backFirst.seesay = true;
    media.getUserMedia = backFirst;
  }

  // --- the live region ------------------------------------------------------------------------
  var status = document.getElementById("seesay-status");
  if (!status) {
    status = el("div", {id: "seesay-status", role: "status", "aria-live": "polite",
                        "aria-atomic": "true", "class": "seesay-visually-hidden"});
    document.body.appendChild(status);
  }
  var pending = [];
  var speaking = false;
  var holding = null;  // the timer that ends the current message's moment
  var cueShown = false;  // what the region shows is a live camera cue
  var cueWaiting = null;  // a live camera cue waiting for the region

  // Show ``text`` now and keep it a moment, so a quick second message does not replace it unread.
  function show(text, isCue) {
    status.textContent = text;
    speaking = true;
    cueShown = isCue;
    clearTimeout(holding);
    holding = setTimeout(nextAnnouncement, 1200);
  }

  function nextAnnouncement() {
    holding = null;
    var text = pending.shift();
    if (text === undefined && cueWaiting !== null) {
      speaking = false;  // the last message's moment is over: the waiting cue goes now
      cue(cueWaiting);
      return;
    }
    cueShown = false;
    if (text === undefined) { speaking = false; return; }
    speaking = true;
    // Clear first, then set after a pause, so the same words twice in a row are read twice.
    status.textContent = "";
    setTimeout(function () { show(text, false); }, 120);
  }

  function announce(text) {
    pending.push(text);
    if (!speaking) { nextAnnouncement(); }
  }

  // The live camera's guidance (ui/assets/live-camera.js), paced there. A cue waits for the other
  // messages, but never for another cue: a newer cue replaces the one shown (it is out of date) or the
  // one waiting, so cues never pile up. Words that differ from what the region shows are shown at once
  // (a screen reader reads a changed text); the same words again are cleared first. cue(null) drops
  // the waiting cue (the photo has been taken).
  function cue(text) {
    cueWaiting = null;
    if (!text) { return; }
    if (pending.length || (speaking && !cueShown)) {
      cueWaiting = text;
      return;
    }
    if (status.textContent !== text) {
      show(text, true);
      return;
    }
    status.textContent = "";
    speaking = true;
    cueShown = false;
    clearTimeout(holding);
    holding = setTimeout(function () { show(text, true); }, 120);
  }

  // --- the player bar ---------------------------------------------------------------------------
  var bar = document.getElementById("seesay-player");
  if (!bar) {
    bar = el("div", {id: "seesay-player", role: "region", "aria-label": WORDS.bar});
    var stopButton = el("button", {id: "seesay-stop", type: "button"}, WORDS.stop);
    var replayButton = el("button", {id: "seesay-replay", type: "button"}, WORDS.replay);
    var audioElement = el("audio", {id: "seesay-audio", preload: "auto", "aria-label": WORDS.audio});
    bar.appendChild(stopButton);
    bar.appendChild(replayButton);
    bar.appendChild(audioElement);
    document.body.insertBefore(bar, document.body.firstChild);  // first in tab order
  }
  var audio = document.getElementById("seesay-audio");

  var player = {
    queue: [],          // sources still to play, in order
    playing: null,      // the clip now playing: {answer, src, silent}
    answer: null,       // id of the answer being spoken
    last: {id: null, clips: []},  // the last answer's clips, for "Play answer again"
    writing: null,      // id of the answer being written now (its clips may still come)
    quiet: {},          // answers the person stopped: their later clips are kept, not played
    rate: 1,
    blockedFor: null    // answer whose autoplay the browser refused (said once)
  };

  function applyRate() {
    audio.defaultPlaybackRate = player.rate;
    audio.playbackRate = player.rate;
    // Faster speech must not sound like a cartoon.
    audio.preservesPitch = true;
    audio.mozPreservesPitch = true;
    audio.webkitPreservesPitch = true;
  }

  function pauseOthers() {
    // The page's own Play controls (st.audio) must not talk over the player, or after Stop.
    document.querySelectorAll("audio").forEach(function (other) {
      if (other !== audio && !other.paused) { other.pause(); }
    });
  }

  function playNext() {
    var next = player.queue.shift();
    if (!next) {
      player.playing = null;
      return;
    }
    if (!next.silent) { pauseOthers(); }
    player.playing = next;
    audio.src = next.src;
    applyRate();
    var started = audio.play();
    if (started && started.catch) {
      started.catch(function (error) {
        if (error && error.name === "NotAllowedError" && !next.silent) {
          // Autoplay refused (no tap yet): say how to hear it instead of failing silently.
          player.queue = [];
          player.playing = null;
          if (player.blockedFor !== next.answer) {
            player.blockedFor = next.answer;
            announce(WORDS.blocked);
          }
        } else if (error && error.name !== "AbortError") {
          playNext();
        }
      });
    }
  }

  function halt() {
    player.queue = [];
    player.playing = null;
    player.answer = null;
    audio.pause();
    audio.removeAttribute("src");
    audio.load();
  }

  function stop() {
    pauseOthers();
    halt();
  }

  // The person stopped the voice, not the answer: the answer being spoken and the one being written
  // are not taken up again by their next clip (the text goes on; "Play answer again" plays them).
  function quieten() {
    [player.answer, player.writing].forEach(function (id) { if (id) { player.quiet[id] = true; } });
  }

  function idle() {
    return (audio.paused || audio.ended) && player.queue.length === 0;
  }

  function addClip(cmd) {
    if (cmd.kind === "answer") {
      if (player.last.id !== cmd.answer) { player.last = {id: cmd.answer, clips: []}; }
      player.last.clips[cmd.index] = cmd.src;
    }
    if (!cmd.play || player.quiet[cmd.answer]) { return; }
    if (player.answer !== cmd.answer) {
      stop();  // a new answer (or message) replaces whatever was being said
      player.answer = cmd.answer;
    }
    player.queue.push({answer: cmd.answer, src: cmd.src, silent: false});
    if (!player.playing || player.playing.silent || idle()) {
      if (player.playing && player.playing.silent) { audio.pause(); }
      playNext();
    }
  }

  function replay() {
    var clips = player.last.clips.filter(function (src) { return !!src; });
    if (!clips.length) {
      announce(player.last.id ? WORDS.no_sound : WORDS.nothing);
      return;
    }
    stop();
    delete player.quiet[player.last.id];  // its clips still to come follow the replay
    player.answer = player.last.id;
    player.blockedFor = null;
    player.queue = clips.map(function (src) { return {answer: player.last.id, src: src, silent: false}; });
    playNext();
  }

  audio.addEventListener("ended", playNext);
  // Someone pressed a Play control on the page: the player makes way, nothing talks over it.
  document.addEventListener("play", function (event) {
    if (event.target !== audio && event.target.tagName === "AUDIO" && !idle()) { quieten(); halt(); }
  }, true);
  audio.addEventListener("error", function () { if (player.playing) { playNext(); } });
  document.getElementById("seesay-stop").addEventListener("click", function () {
    quieten();
    stop();
    announce(WORDS.stopped);
  });
  document.getElementById("seesay-replay").addEventListener("click", replay);

  // iPhone Safari lets an audio element play by itself only after it played during a tap.
  // Every tap or key press while nothing is playing plays a moment of silence on it.
  function unlock(event) {
    if (bar.contains(event.target) || !idle()) { return; }
    if (event.type === "keydown" && event.key !== "Enter" && event.key !== " ") { return; }
    player.playing = {answer: null, src: SILENCE, silent: true};
    audio.src = SILENCE;
    var started = audio.play();
    if (started && started.catch) { started.catch(function () {}); }
  }
  document.addEventListener("click", unlock, true);
  document.addEventListener("keydown", unlock, true);

  // --- names for Streamlit's unlabelled buttons --------------------------------------------------
  // The names are WORDS' keys (the page's language, from Python); Streamlit's own texts are English.
  // A name SeeSay gave is recognised again (byLabel) when the language changes.
  var LABELS = [
    // st.camera_input: its label is hidden from screen readers; the button says "Take Photo".
    {selector: "[data-testid='stCameraInputButton']", byText: {"take photo": "take_photo",
                                                              "clear photo": "clear_photo"}},
    // st.file_uploader: an "Upload" button and a hidden file input named "file upload" say
    // nothing about photos (names keep the visible word, WCAG 2.5.3).
    {selector: "[data-testid='stFileUploaderDropzone'] button", always: "upload"},
    {selector: "[data-testid='stFileUploaderDropzoneInput']", always: "choose_file"},
    // st.audio_input: a bare "Record" icon button.
    {selector: "[data-testid='stAudioInputActionButton']", byLabel: {
      "Record": "record", "Stop recording": "stop_recording",
      "Play": "play_recording", "Pause": "pause_recording"}}
  ];
  var given = {};  // aria-label SeeSay set -> the WORDS key it came from

  function fixLabels() {
    LABELS.forEach(function (rule) {
      document.querySelectorAll(rule.selector).forEach(function (node) {
        var key = null;
        if (rule.always) {
          key = rule.always;
        } else if (rule.byText) {
          key = rule.byText[(node.textContent || "").trim().toLowerCase()] || null;
        } else {
          var current = node.getAttribute("aria-label");
          key = rule.byLabel[current] || given[current] || null;
        }
        var wanted = key ? WORDS[key] : null;
        if (wanted) { given[wanted] = key; }
        if (wanted && node.getAttribute("aria-label") !== wanted) {
          node.setAttribute("aria-label", wanted);
        }
      });
    });
    // st.camera_input hides its visible label from screen readers (aria-hidden inside the label):
    // the camera becomes a group named with that label's text, so "Camera" is heard with the
    // Switch camera and Take photo buttons.
    document.querySelectorAll("[data-testid='stCameraInput']").forEach(function (camera) {
      var label = camera.querySelector("[data-testid='stWidgetLabel']");
      var name = label ? (label.textContent || "").trim() : "";
      if (!name) { return; }
      if (camera.getAttribute("role") !== "group") { camera.setAttribute("role", "group"); }
      if (camera.getAttribute("aria-label") !== name) { camera.setAttribute("aria-label", name); }
    });
    // The uploader's drop zone is a presentation element that takes focus (axe:
    // presentation-role-conflict); its "Browse files" button is what people use.
    document.querySelectorAll("[data-testid='stFileUploaderDropzone'][role='presentation']").forEach(
      function (node) { node.removeAttribute("role"); });
  }

  // Streamlit draws st.error as role="alert", so a screen reader would read every error twice:
  // once as the alert, once from SeeSay's live region (which says every status, errors included).
  // The role goes as soon as the box is inserted, in the same task, before the accessibility tree
  // is updated; the box stays on the page for anyone who reads it.
  function quietAlerts() {
    document.querySelectorAll("[data-testid='stAlertContainer'][role='alert']").forEach(
      function (node) { node.removeAttribute("role"); });
  }

  var scheduled = false;
  new MutationObserver(function () {
    quietAlerts();
    if (scheduled) { return; }
    scheduled = true;
    requestAnimationFrame(function () { scheduled = false; fixLabels(); });
  }).observe(document.body, {subtree: true, childList: true, attributes: true,
                             attributeFilter: ["aria-label", "role"]});
  fixLabels();
  quietAlerts();

  // New words (the language changed): the player bar and the names already given follow.
  function setWords(words) {
    Object.keys(words).forEach(function (key) { if (words[key]) { WORDS[key] = words[key]; } });
    bar.setAttribute("aria-label", WORDS.bar);
    document.getElementById("seesay-stop").textContent = WORDS.stop;
    document.getElementById("seesay-replay").textContent = WORDS.replay;
    audio.setAttribute("aria-label", WORDS.audio);
    fixLabels();
  }

  // --- commands from Python ---------------------------------------------------------------------
  var done = {};

  function run(payload) {
    if (payload.config) {
      if (typeof payload.config.rate === "number") { player.rate = payload.config.rate; applyRate(); }
      if (payload.config.words) { setWords(payload.config.words); }
      if (payload.config.lang) { document.documentElement.lang = payload.config.lang; }
    }
    (payload.commands || []).forEach(function (cmd) {
      if (done[cmd.id]) { return; }
      done[cmd.id] = true;
      if (cmd.type === "announce") { announce(cmd.text); }
      else if (cmd.type === "clip") { addClip(cmd); }
      else if (cmd.type === "answer") {
        player.writing = cmd.answer;
        if (!cmd.speak) { player.last = {id: cmd.answer, clips: []}; }
      }
      else if (cmd.type === "stop") { quieten(); stop(); }
    });
  }

  window.SeeSay = {version: VERSION, run: run, announce: announce, cue: cue, stop: stop, replay: replay,
                   player: player};
  (window.SeeSayPending || []).forEach(run);
  window.SeeSayPending = [];
})();
