/* SeeSay's live camera: guidance while the person aims, and the photo taken by itself when it is good.
 *
 * A Streamlit component (Components v2, mounted in the page, no iframe; ui/live_camera.py). Python
 * hands it, as `data`: the words to say and the controls' names (core/aiming.py: nothing a person hears
 * is written here), the limits each frame is judged by (core.aiming.browser_limits), the person's
 * preferences, and the answer to the last text check. It hands Python two trigger values: "frame" (a
 * small JPEG for the text check, at most twice a second, one at a time: the latest frame wins) and
 * "photo" (the photo, at the camera's full resolution, which SeeSay's photo path takes like any photo).
 *
 * Every frame it can, the picture is judged here by core.quality's own measures, ported below and
 * computed on a grey copy of the same size with the same thresholds, so that a picture judged good here
 * passes the quality check (tests/browser/test_live_camera.py holds the port to the Python one), and by
 * its steadiness: how far the picture moves between frames, and how fast the phone turns where the
 * browser gives its motion sensor (never in a headless browser: everything works without it). What to
 * change is said through SeeSay's one live region (window.SeeSay.cue, ui/assets/seesay.js), paced so a
 * person can follow it; an optional tone rises in pitch as the picture gets sharper.
 *
 * Streamlit calls the default export again whenever `data` changes, with the same parent element: the
 * state lives on that element, and only the latest call's cleanup runs, when the component goes away.
 */

// --- core.quality's measures (core/quality.py), on RGBA pixels at the working size ----------------------
// The blur measure's own constants, as in core/quality.py (_TILES, _SPAN, _EDGE, _MIN_EDGES, _TILE_QUANTILE).
const TILES = 4, SPAN = 4, EDGE = 1.5 / 255, MIN_EDGES = 0.02, TILE_QUANTILE = 25;

// PIL's BOX filter along one axis: for each output pixel, the input pixels whose centres fall in its box.
function boxAxis(inSize, outSize) {
  const scale = inSize / outSize, support = scale * 0.5, spans = [];
  for (let x = 0; x < outSize; x++) {
    const centre = (x + 0.5) * scale, picked = [];
    const lo = Math.max(0, Math.trunc(centre - support + 0.5));
    const hi = Math.min(inSize, Math.trunc(centre + support + 0.5));
    for (let i = lo; i < hi; i++) {
      const t = (i - centre + 0.5) / scale;
      if (t >= -0.5 && t < 0.5) { picked.push(i); }
    }
    spans.push(picked);
  }
  return spans;
}

// A grey picture resized as PIL's Image.resize(..., BOX) does on a float picture: across, then down.
function boxResize(src, w, h, tw, th) {
  const cols = boxAxis(w, tw), rows = boxAxis(h, th);
  const across = new Float32Array(tw * h), out = new Float32Array(tw * th);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < tw; x++) {
      const picked = cols[x];
      let sum = 0;
      for (let k = 0; k < picked.length; k++) { sum += src[y * w + picked[k]]; }
      across[y * tw + x] = sum / picked.length;
    }
  }
  for (let y = 0; y < th; y++) {
    const picked = rows[y];
    for (let x = 0; x < tw; x++) {
      let sum = 0;
      for (let k = 0; k < picked.length; k++) { sum += across[picked[k] * tw + x]; }
      out[y * tw + x] = sum / picked.length;
    }
  }
  return out;
}

// core.quality._detail: RMS of the Laplacian of a coarse copy of about coarsePixels pixels (grey levels).
function coarseCopy(grey, w, h, coarsePixels) {
  const scale = Math.min(1, Math.sqrt(coarsePixels / (w * h)));
  const cw = Math.max(3, Math.round(w * scale)), ch = Math.max(3, Math.round(h * scale));
  return {pixels: boxResize(grey, w, h, cw, ch), width: cw, height: ch};
}

function detailOf(coarse) {
  const c = coarse.pixels, cw = coarse.width, ch = coarse.height;
  let sum = 0, count = 0;
  for (let y = 1; y < ch - 1; y++) {
    for (let x = 1; x < cw - 1; x++) {
      const i = y * cw + x;
      const l = 4 * c[i] - c[i - cw] - c[i + cw] - c[i - 1] - c[i + 1];
      sum += l * l;
      count++;
    }
  }
  return Math.sqrt(sum / count) * 255;
}

// core.quality._blur: the blur effect of Crete-Roffet et al. (2007), per tile, along four directions.
// The picture is padded by repeating its edges (numpy's mode="edge"), so every tap is a plain offset.
function blurOf(p, w, h) {
  if (Math.min(w, h) < 4 * TILES) { return 0; }
  const pad = SPAN + 1, W = w + 2 * pad, H = h + 2 * pad;
  const padded = new Float32Array(W * H), smooth = new Float32Array(W * H), sums = new Float64Array(W * H);
  for (let y = 0; y < H; y++) {
    const sy = Math.min(h - 1, Math.max(0, y - pad));
    for (let x = 0; x < W; x++) { padded[y * W + x] = p[sy * w + Math.min(w - 1, Math.max(0, x - pad))]; }
  }
  const th = Math.floor(h / TILES), tw = Math.floor(w / TILES), cells = TILES * TILES;
  const tileOf = new Int32Array(tw * TILES);
  for (let x = 0; x < tw * TILES; x++) { tileOf[x] = Math.floor(x / tw); }
  let worst = 0;
  for (const [dy, dx] of [[0, 1], [1, 0], [1, 1], [1, -1]]) {
    const off = dy * W + dx, ahead = SPAN * off, behind = (SPAN + 1) * off;
    for (let y = 0; y < h; y++) {
      for (let x = 0, i = (y + pad) * W + pad; x < w; x++, i++) {
        let sum;
        const bx = x - dx;
        if (y - dy >= 0 && bx >= 0 && bx < w) {  // slide the window one pixel on from the one before it
          sum = sums[i - off] + padded[i + ahead] - padded[i - behind];
        } else {
          sum = padded[i];
          for (let k = 1, o = off; k <= SPAN; k++, o += off) { sum += padded[i + o] + padded[i - o]; }
        }
        sums[i] = sum;
        smooth[i] = sum / (2 * SPAN + 1);
      }
    }
    for (let y = pad - 1; y <= pad + h; y++) {  // the smoothed picture's own edge, one pixel wide
      const sy = Math.min(pad + h - 1, Math.max(pad, y));
      if (y !== sy) {
        for (let x = pad - 1; x <= pad + w; x++) { smooth[y * W + x] = smooth[sy * W + x]; }
      }
      smooth[y * W + pad - 1] = smooth[sy * W + pad];
      smooth[y * W + pad + w] = smooth[sy * W + pad + w - 1];
    }
    const edges = new Float64Array(cells), removed = new Float64Array(cells), steps = new Float64Array(cells);
    for (let y = 0; y < th * TILES; y++) {
      const row = Math.floor(y / th) * TILES;
      for (let x = 0, i = (y + pad) * W + pad; x < tw * TILES; x++, i++) {
        const smoothStep = Math.abs(smooth[i] - smooth[i + off]);
        if (smoothStep > EDGE) {
          const step = Math.abs(padded[i] - padded[i + off]), t = row + tileOf[x];
          edges[t]++;
          steps[t] += step;
          if (step > smoothStep) { removed[t] += step - smoothStep; }
        }
      }
    }
    const blurs = [];
    for (let t = 0; t < cells; t++) {
      if (edges[t] >= MIN_EDGES * th * tw) { blurs.push(1 - removed[t] / Math.max(steps[t], 1e-9)); }
    }
    if (!blurs.length) { continue; }
    blurs.sort((a, b) => a - b);
    const at = (TILE_QUANTILE / 100) * (blurs.length - 1), lo = Math.floor(at), hi = Math.ceil(at);
    worst = Math.max(worst, blurs[lo] + (blurs[hi] - blurs[lo]) * (at - lo));  // numpy's percentile
  }
  return worst;
}

// Every measure of core.quality.check_quality but the size, on RGBA pixels (w x h, the working copy);
// without ``sharp``, the blur measure only when sharpness() asks for it.
function measure(rgba, w, h, limits, sharp = true) {
  const n = w * h, grey = new Float32Array(n), histogram = new Float64Array(256);
  for (let i = 0, j = 0; i < n; i++, j += 4) {
    // PIL's "L": ITU-R 601 luma, rounded
    const level = ((rgba[j] * 299 + rgba[j + 1] * 587 + rgba[j + 2] * 114 + 500) / 1000) | 0;
    histogram[level]++;
    grey[i] = level / 255;
  }
  const below = (share) => {
    let count = 0;
    for (let v = 0; v < 256; v++) {
      count += histogram[v];
      if (count >= share * n) { return v / 255; }
    }
    return 1;
  };
  const coarse = coarseCopy(grey, w, h, limits.coarse_pixels);
  const m = {brightest: below(0.99), darkest: below(0.01), clipped: (histogram[254] + histogram[255]) / n,
             detail: detailOf(coarse), blur: null};
  const result = {measures: m, coarse: coarse, sharpness: () => {
    // the blur measure costs most; core.quality takes it only on pictures with detail, as here
    if (m.blur === null) { m.blur = m.detail >= limits.thresholds.detail ? blurOf(grey, w, h) : 0; }
    return m.blur;
  }};
  if (sharp) { result.sharpness(); }
  return result;
}

// What is wrong, in the order of core.aiming.CUES (the order of core.quality's findings).
function findings(m, moving, limits) {
  const t = limits.thresholds, found = [];
  if (m.brightest < t.brightest) { found.push("dark"); }
  if (m.clipped >= t.clipped) { found.push("bright"); }
  else if (m.detail >= t.detail && m.darkest > t.darkest) { found.push("glare"); }
  if (m.detail < t.detail) { found.push("nothing"); }
  if (moving) { found.push("moving"); }
  if (m.blur !== null && m.blur > t.blur) { found.push("blurred"); }
  return found;
}

// Whether finding ``kind`` is beyond doubt: its measure is limits.sure of its threshold past it.
function sure(kind, m, limits) {
  const t = limits.thresholds, k = limits.sure;
  switch (kind) {
    case "dark": return m.brightest < t.brightest * (1 - k);
    case "bright": return m.clipped >= t.clipped * (1 + k);
    case "glare": return m.darkest > t.darkest * (1 + k);
    case "nothing": return m.detail < t.detail * (1 - k);
    case "blurred": return m.blur !== null && m.blur > t.blur * (1 + k);
    case "moving": return false;
    default: return true;  // the text check's answer: one per frame sent, nothing to confirm it on
  }
}

// How fast the picture moves, as a share of its width a second, from two coarse copies. Both are first
// brought to the same mean and contrast, so that light changing (a lamp switched on, the camera's own
// exposure settling) does not read as movement. The shift that best lays one on the other, up to
// MAX_SHIFT coarse pixels each way, is how far the picture moved; under a pixel, the change of each pixel
// over the picture's slope there says how far.
const MAX_SHIFT = 3;
function normalised(pixels) {
  const n = pixels.length, out = new Float32Array(n);
  let sum = 0, squares = 0;
  for (let i = 0; i < n; i++) { sum += pixels[i]; squares += pixels[i] * pixels[i]; }
  const mean = sum / n, spread = Math.sqrt(Math.max(0, squares / n - mean * mean));
  if (spread < 1e-3) { return null; }  // a flat picture shows no movement
  for (let i = 0; i < n; i++) { out[i] = (pixels[i] - mean) / spread; }
  return out;
}

function motionOf(previous, coarse, seconds) {
  const cw = coarse.width, ch = coarse.height, R = MAX_SHIFT;
  if (previous.width !== cw || previous.height !== ch || seconds <= 0 || cw <= 2 * R + 1 || ch <= 2 * R + 1) {
    return 0;
  }
  const a = normalised(previous.pixels), b = normalised(coarse.pixels);
  if (!a || !b) { return 0; }
  let best = Infinity, bx = 0, by = 0;
  for (let dy = -R; dy <= R; dy++) {
    for (let dx = -R; dx <= R; dx++) {
      let cost = 0;
      for (let y = R; y < ch - R; y++) {
        for (let x = R, i = y * cw + x, j = (y + dy) * cw + x + dx; x < cw - R; x++, i++, j++) {
          cost += Math.abs(b[i] - a[j]);
        }
      }
      if (cost < best - 1e-9 || (Math.abs(cost - best) <= 1e-9 && dx * dx + dy * dy < bx * bx + by * by)) {
        best = cost; bx = dx; by = dy;
      }
    }
  }
  let shift = Math.hypot(bx, by);
  if (shift === 0) {
    let change = 0, slope = 0;
    for (let y = 0; y < ch - 1; y++) {
      for (let x = 0, i = y * cw; x < cw - 1; x++, i++) {
        change += Math.abs(b[i] - a[i]);
        slope += Math.hypot(b[i + 1] - b[i], b[i + cw] - b[i]);
      }
    }
    shift = slope > 0 ? Math.min(1, change / slope) : 0;
  }
  return shift / cw / seconds;
}

// --- the live camera ------------------------------------------------------------------------------------
const BEEP_EVERY = 250, BEEP_LENGTH = 0.07, LOW_PITCH = 220, HIGH_PITCH = 880;  // ms, s, Hz, Hz
const SHAKE_MS = 300;  // a jolt of the motion sensor counts as moving for this long

class LiveCamera {
  constructor(root, setTriggerValue) {
    this.root = root;
    this.send = setTriggerValue;
    this.toggle = root.querySelector(".seesay-live-toggle");
    this.view = root.querySelector(".seesay-live-view");
    this.video = root.querySelector(".seesay-live-video");
    this.said = root.querySelector(".seesay-live-said");
    this.takeButton = root.querySelector(".seesay-live-take");
    this.textBox = root.querySelector(".seesay-live-text");
    this.work = document.createElement("canvas");
    this.frameCanvas = document.createElement("canvas");
    this.stream = null;
    this.running = false;
    this.sentId = 0;
    this.onMotion = (event) => this.motion(event);
    this.toggle.addEventListener("click", () => (this.on() ? this.stop("off") : this.start()));
    this.takeButton.addEventListener("click", () => this.take(false));
  }

  update(data, setTriggerValue) {
    this.send = setTriggerValue;
    this.words = data.words;
    this.name(data.labels || {});
    this.limits = data.limits;
    this.prefs = data.prefs;
    // An answer to any frame sent since the camera opened counts, if it is newer than the one kept (a
    // late answer to a frame given up on is still news of the picture at that time).
    const check = data.check, at = check && this.sentAt ? this.sentAt[check.frame] : undefined;
    if (at !== undefined && (!this.check || at > this.check.at)) {
      this.check = {at: at, advice: check.advice || [], unavailable: !!check.unavailable};
      if (this.pending && check.frame >= this.pending.id) { this.pending = null; }
    }
  }

  // The controls' names in the page's language (the HTML is registered once, in English).
  name(labels) {
    if (labels.toggle && this.toggle.textContent !== labels.toggle) { this.toggle.textContent = labels.toggle; }
    if (labels.take && this.takeButton.textContent !== labels.take) { this.takeButton.textContent = labels.take; }
    const option = this.root && this.root.querySelector(".seesay-live-option");
    const text = option && option.lastChild;
    if (labels.text && text && text.nodeType === Node.TEXT_NODE && text.textContent.trim() !== labels.text) {
      text.textContent = " " + labels.text;
    }
  }

  // -- the camera ------------------------------------------------------------------------------------
  async start() {
    this.reset();
    this.setOn(true);
    if (this.prefs.tone) { this.startTone(); }
    // iPhone Safari gives the motion sensor only when asked during a tap; elsewhere it just comes.
    if (window.DeviceMotionEvent && typeof DeviceMotionEvent.requestPermission === "function") {
      DeviceMotionEvent.requestPermission().catch(() => {});
    }
    window.addEventListener("devicemotion", this.onMotion);
    const media = navigator.mediaDevices;
    if (!media || !media.getUserMedia) { this.fail("no-camera"); return; }
    let stream;
    try {
      // The back lens (as an "ideal": a computer's one webcam is used whichever way it faces), at the
      // largest size the camera gives: the photo is taken from this stream.
      stream = await media.getUserMedia({audio: false, video: {facingMode: {ideal: "environment"},
                                                               width: {ideal: 4096}, height: {ideal: 4096}}});
    } catch (error) {
      const name = error && error.name;
      this.fail(name === "NotAllowedError" || name === "SecurityError" ? "denied"
                : name === "NotFoundError" || name === "OverconstrainedError" ? "no-camera" : "failed");
      return;
    }
    if (!this.toggle.isConnected || !this.on()) {
      stream.getTracks().forEach((track) => track.stop());  // switched off (or gone) while the browser asked
      return;
    }
    this.stream = stream;
    this.video.srcObject = stream;
    try { await this.video.play(); } catch (error) { /* muted inline video plays; a pause is harmless */ }
    this.running = true;
    this.tell(this.words.on);
    this.schedule();
  }

  on() {
    return this.toggle.getAttribute("aria-pressed") === "true";
  }

  stop(reason) {
    const wasOn = this.on();
    this.running = false;
    if (this.stream) { this.stream.getTracks().forEach((track) => track.stop()); }
    this.stream = null;
    this.video.srcObject = null;
    window.removeEventListener("devicemotion", this.onMotion);
    this.stopTone();
    this.setOn(false);
    if (reason === "off" && wasOn) { this.tell(this.words.off); }
  }

  fail(kind) {
    this.stop(null);
    this.tell(this.words[kind]);
    this.said.textContent = this.words[kind];
  }

  setOn(on) {
    // Focus never falls to the page's top: from a control that goes away it moves to the toggle.
    if (!on && this.view.contains(document.activeElement)) { this.toggle.focus(); }
    this.toggle.setAttribute("aria-pressed", on ? "true" : "false");
    this.view.hidden = !on;
  }

  reset() {
    this.previous = null;
    this.lastAt = 0;
    this.verdict = undefined;
    this.agreeing = 0;
    this.goodSince = null;
    this.check = null;
    this.pending = null;
    this.sentAt = {};  // frame id -> when it was taken
    this.lastSent = -Infinity;
    this.lastShake = -Infinity;
    this.spoken = {kind: null, at: -Infinity};
    this.takeWanted = false;
    this.said.textContent = "";
  }

  schedule() {
    if (!this.running) { return; }
    if (this.video.requestVideoFrameCallback) {  // once for each new frame of the camera
      this.video.requestVideoFrameCallback(() => this.frame());
    } else {
      requestAnimationFrame(() => this.frame());
    }
  }

  motion(event) {
    const r = event.rotationRate;
    if (!r) { return; }
    const turning = Math.hypot(r.alpha || 0, r.beta || 0, r.gamma || 0);  // degrees a second
    if (turning > this.limits.moving * this.limits.field_of_view) { this.lastShake = performance.now(); }
  }

  // -- every frame -------------------------------------------------------------------------------------
  frame() {
    if (!this.running) { return; }
    try {
      this.judge(performance.now());
    } finally {
      this.schedule();
    }
  }

  judge(now) {
    const video = this.video, vw = video.videoWidth, vh = video.videoHeight;
    if (!vw || !vh) { return; }
    if (this.takeWanted) {
      this.take(false);
      return;
    }
    const limits = this.limits, scale = Math.min(1, limits.work_side / Math.max(vw, vh));
    const w = Math.max(1, Math.round(vw * scale)), h = Math.max(1, Math.round(vh * scale));
    if (this.work.width !== w || this.work.height !== h) { this.work.width = w; this.work.height = h; }
    const context = this.work.getContext("2d", {willReadFrequently: true});
    context.imageSmoothingQuality = "medium";
    context.drawImage(video, 0, 0, w, h);
    const judged = measure(context.getImageData(0, 0, w, h).data, w, h, limits, false);
    const {measures, coarse} = judged;
    const seconds = (now - this.lastAt) / 1000;
    // Movement is judged only between two pictures with detail: a finger over the lens or a blank wall
    // has nothing to follow.
    const detailed = measures.detail >= limits.thresholds.detail;
    const moved = detailed && this.previous && seconds < 1 ? motionOf(this.previous, coarse, seconds) : 0;
    this.previous = detailed ? coarse : null;
    this.lastAt = now;
    const moving = moved > limits.moving || now - this.lastShake < SHAKE_MS;
    let found = findings(measures, moving, limits);
    if (!found.length) {  // sharpness is judged only when nothing said before it is wrong: it costs most
      judged.sharpness();
      found = findings(measures, moving, limits);
    }
    this.goodSince = found.length ? null : (this.goodSince === null ? now : this.goodSince);
    this.measures = measures;
    this.beep(now, found);

    const wantText = this.textBox.checked;
    const check = this.check, fresh = check && this.goodSince !== null && check.at >= this.goodSince;
    let verdict = found[0] || null;
    if (!verdict && wantText && fresh && !check.unavailable && check.advice.length) { verdict = check.advice[0]; }
    this.agreeing = verdict === this.verdict ? this.agreeing + 1 : 1;
    this.verdict = verdict;
    if (verdict === null) {
      this.spoken.kind = null;  // the next thing to change is said as soon as the pace allows
    } else if (this.agreeing >= limits.agree || sure(verdict, measures, limits)) {
      this.cue(verdict, now);
    }
    if (this.goodSince === null) { return; }
    const textReady = !wantText || (fresh && (check.unavailable || !check.advice.length));
    if (textReady && now - this.goodSince >= limits.hold * 1000) {
      this.take(true);
    } else if (wantText && !textReady) {
      this.sendFrame(now);
    }
  }

  // Say ``kind``'s cue, paced: the same cue at most every prefs.every seconds, two different ones at
  // least limits.gap apart.
  cue(kind, now) {
    const last = this.spoken;
    const wait = kind === last.kind ? this.prefs.every : this.limits.gap;
    if (now - last.at < wait * 1000) { return; }
    this.spoken = {kind: kind, at: now};
    this.said.textContent = this.words[kind];
    if (window.SeeSay && window.SeeSay.cue) { window.SeeSay.cue(this.words[kind]); }
  }

  tell(text) {
    if (!window.SeeSay) { return; }
    if (window.SeeSay.cue) { window.SeeSay.cue(null); }  // a waiting cue is out of date now
    window.SeeSay.announce(text);
  }

  // -- the text check: one small frame at a time, at most twice a second ------------------------------
  sendFrame(now) {
    const limits = this.limits;
    if (now - this.lastSent < limits.text_every * 1000) { return; }
    if (this.pending && now - this.pending.at < limits.text_wait * 1000) { return; }  // one at a time
    const video = this.video, vw = video.videoWidth, vh = video.videoHeight;
    const scale = Math.min(1, limits.frame_side / Math.max(vw, vh));
    this.frameCanvas.width = Math.max(1, Math.round(vw * scale));
    this.frameCanvas.height = Math.max(1, Math.round(vh * scale));
    this.frameCanvas.getContext("2d").drawImage(video, 0, 0, this.frameCanvas.width, this.frameCanvas.height);
    const image = this.frameCanvas.toDataURL("image/jpeg", 0.85);
    this.sentId += 1;
    this.sentAt[this.sentId] = now;
    this.pending = {id: this.sentId, at: now};
    this.lastSent = now;
    this.send("frame", {id: this.sentId, image: image.slice(image.indexOf(",") + 1), side: Math.max(vw, vh)});
  }

  // -- the photo ---------------------------------------------------------------------------------------
  take(auto) {
    const video = this.video, w = video.videoWidth, h = video.videoHeight;
    if (!this.on()) { return; }
    if (!this.running || !w || !h) {  // pressed before the camera's first frame: taken with that frame
      this.takeWanted = true;
      return;
    }
    const canvas = document.createElement("canvas");
    canvas.width = w;
    canvas.height = h;
    canvas.getContext("2d").drawImage(video, 0, 0, w, h);
    const url = canvas.toDataURL("image/jpeg", 0.92);
    const image = url.slice(url.indexOf(",") + 1);
    const goodSince = this.goodSince;
    this.stop(null);
    this.said.textContent = this.words.taken;
    this.tell(this.words.taken);
    this.send("photo", {image: image, auto: auto});
    // For scripts that follow the live camera on this page (the benchmark does).
    this.root.dispatchEvent(new CustomEvent("seesay-live-photo", {bubbles: true, composed: true, detail: {
      auto: auto, width: w, height: h, image: image, goodSince: goodSince, takenAt: performance.now()}}));
  }

  // -- the tone: short beeps whose pitch rises as the picture gets sharper -----------------------------
  startTone() {
    const Audio = window.AudioContext || window.webkitAudioContext;
    if (!Audio) { return; }
    this.audio = this.audio || new Audio();  // created during the tap, so phones let it sound
    this.audio.resume().catch(() => {});
    this.lastBeep = -Infinity;
  }

  stopTone() {
    if (this.audio) { this.audio.suspend().catch(() => {}); }
  }

  beep(now, found) {
    if (!this.prefs.tone || !this.audio || now - this.lastBeep < BEEP_EVERY) { return; }
    this.lastBeep = now;
    const t = this.limits.thresholds, m = this.measures;
    // 0 for no picture to judge (dark, nothing in view), then from twice the blur threshold (0) to sharp (1)
    const sharp = m.blur === null || found.includes("dark") || found.includes("nothing") ? 0
      : Math.max(0, Math.min(1, 1 - m.blur / (2 * t.blur)));
    const pitch = LOW_PITCH * Math.pow(HIGH_PITCH / LOW_PITCH, sharp);
    const a = this.audio, start = a.currentTime, oscillator = a.createOscillator(), gain = a.createGain();
    oscillator.frequency.value = pitch;
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.2, start + 0.01);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + BEEP_LENGTH);
    oscillator.connect(gain).connect(a.destination);
    oscillator.start(start);
    oscillator.stop(start + BEEP_LENGTH + 0.01);
  }
}

// The measures, for the tests that hold this port to core/quality.py.
window.SeeSayLive = {measure: measure, findings: findings, motionOf: motionOf};

export default function (component) {
  const {data, parentElement, setTriggerValue} = component;
  const root = parentElement.querySelector(".seesay-live");
  if (!root) { return undefined; }
  let live = root.seesayLive;
  if (!live) {
    live = new LiveCamera(root, setTriggerValue);
    root.seesayLive = live;
  }
  live.update(data, setTriggerValue);
  return () => live.stop(null);
}
