/**
 * The 10 shapes as point-membership tests in unit coordinates.
 *
 * Notation: a shape of class k drawn at centre (c_x, c_y) with radius r (pixels) covers the image point (x, y)
 * iff `inside_k(u, v)` with u = (x − c_x) / r, v = (y − c_y) / r (v grows downwards, as image rows). Every
 * shape lies in the box |u| ≤ e_u, |v| ≤ e_v (`extent`), with max(e_u, e_v) = 1, so r is the half-size of the
 * shape's bounding box along its longer axis. `area` is the shape's area in unit coordinates (∫∫ inside du dv),
 * derived from the geometry below (not measured), for tests.
 */

/** Geometry of one shape class. */
export interface ShapeGeometry {
  /** Whether the unit-coordinate point (u, v) is inside the shape. */
  readonly inside: (u: number, v: number) => boolean;
  /** Half-extents [e_u, e_v] of the bounding box in unit coordinates. */
  readonly extent: readonly [number, number];
  /** Area in unit coordinates (so the pixel area is `area · r²`). */
  readonly area: number;
}

const SQRT3 = Math.sqrt(3);

/** Square half-side. */
const SQUARE_HALF = 0.78;
/** Triangle: apex (0, −TRI_TOP), base corners (±1, TRI_BASE). */
const TRI_TOP = 0.95;
const TRI_BASE = 0.85;
/** Star: outer radius 1, inner radius STAR_INNER, five points, one straight up. */
const STAR_INNER = 0.45;
/** Heart: the curve (x² + y² − 1)³ − x² y³ = 0 (y up) spans x ∈ ±HEART_X, y ∈ [−1, HEART_YTOP]. */
const HEART_X = 1.1385;
const HEART_YTOP = 1.236;
/** Cross: arm half-width and half-length. */
const CROSS_WIDTH = 0.32;
const CROSS_LENGTH = 0.95;
/** Ring: hole radius (the outer radius is 1). */
const RING_HOLE = 0.5;
/** Diamond: |u| / DIAMOND_WIDTH + |v| ≤ 1. */
const DIAMOND_WIDTH = 0.8;
/** Moon: the unit disc minus a disc of radius MOON_CUT_R centred MOON_CUT_OFFSET to its right, moved right by MOON_SHIFT (so the crescent spans u ∈ [−0.8, 0.81]). */
const MOON_CUT_R = 0.8;
const MOON_CUT_OFFSET = 0.5;
const MOON_SHIFT = 0.2;

/** The star's 10 vertices (outer, inner, …), first one at the top: angle_k = −90° + 36°·k. */
const STAR_VERTICES: readonly (readonly [number, number])[] = Array.from({ length: 10 }, (_, k) => {
  const angle = -Math.PI / 2 + (k * Math.PI) / 5;
  const radius = k % 2 === 0 ? 1 : STAR_INNER;
  return [radius * Math.cos(angle), radius * Math.sin(angle)] as const;
});
const STAR_X = Float64Array.from(STAR_VERTICES, (p) => p[0]);
const STAR_Y = Float64Array.from(STAR_VERTICES, (p) => p[1]);

/** Even–odd crossing test of a closed polygon (vertices in `xs`, `ys`). */
function insidePolygon(xs: Float64Array, ys: Float64Array, u: number, v: number): boolean {
  let inside = false;
  const n = xs.length;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const yi = ys[i] as number;
    const yj = ys[j] as number;
    if (yi > v !== yj > v) {
      const xi = xs[i] as number;
      const xj = xs[j] as number;
      if (u < ((xj - xi) * (v - yi)) / (yj - yi) + xi) inside = !inside;
    }
  }
  return inside;
}

/** Circular-segment area of a disc of radius ρ cut by a chord at distance d from its centre. */
function segmentArea(rho: number, d: number): number {
  return rho * rho * Math.acos(d / rho) - d * Math.sqrt(rho * rho - d * d);
}

/** Area of the intersection of two discs (radii a, b, centres at distance d, partially overlapping). */
function lensArea(a: number, b: number, d: number): number {
  const x = (d * d + a * a - b * b) / (2 * d); // distance from disc a's centre to the radical line
  return segmentArea(a, x) + segmentArea(b, d - x);
}

/** Geometry per class, in the label order of `SHAPE_CLASSES`. */
export const SHAPE_GEOMETRY: readonly ShapeGeometry[] = [
  // circle
  { inside: (u, v) => u * u + v * v <= 1, extent: [1, 1], area: Math.PI },
  // square
  {
    inside: (u, v) => Math.abs(u) <= SQUARE_HALF && Math.abs(v) <= SQUARE_HALF,
    extent: [SQUARE_HALF, SQUARE_HALF],
    area: 4 * SQUARE_HALF * SQUARE_HALF,
  },
  // triangle: isosceles, apex up; width grows linearly from 0 at the apex to 2 at the base
  {
    inside: (u, v) => v <= TRI_BASE && (TRI_TOP + TRI_BASE) * Math.abs(u) <= v + TRI_TOP,
    extent: [1, TRI_TOP],
    area: TRI_TOP + TRI_BASE, // ½ · base 2 · height (TRI_TOP + TRI_BASE)
  },
  // star: 10 triangles (centre, outer vertex, inner vertex), each ½ · 1 · STAR_INNER · sin 36°
  {
    inside: (u, v) => insidePolygon(STAR_X, STAR_Y, u, v),
    extent: [Math.cos(Math.PI / 10), 1],
    area: 10 * 0.5 * STAR_INNER * Math.sin(Math.PI / 5),
  },
  // heart: scaled so its half-width is 1 and centred vertically
  {
    inside: (u, v) => {
      const x = u * HEART_X;
      const y = -v * HEART_X + (HEART_YTOP - 1) / 2;
      const q = x * x + y * y - 1;
      return q * q * q - x * x * y * y * y <= 0;
    },
    extent: [1, (HEART_YTOP + 1) / 2 / HEART_X],
    // the area inside (x² + y² − 1)³ ≤ x² y³ is 3.6601 (numerical integration, 4001² grid), divided by the scale²
    area: 3.6601 / (HEART_X * HEART_X),
  },
  // cross: two bars of 2·WIDTH × 2·LENGTH minus their shared square
  {
    inside: (u, v) => {
      const au = Math.abs(u);
      const av = Math.abs(v);
      return (au <= CROSS_WIDTH && av <= CROSS_LENGTH) || (av <= CROSS_WIDTH && au <= CROSS_LENGTH);
    },
    extent: [CROSS_LENGTH, CROSS_LENGTH],
    area: 2 * (2 * CROSS_WIDTH) * (2 * CROSS_LENGTH) - (2 * CROSS_WIDTH) ** 2,
  },
  // ring
  {
    inside: (u, v) => {
      const d = u * u + v * v;
      return d <= 1 && d >= RING_HOLE * RING_HOLE;
    },
    extent: [1, 1],
    area: Math.PI * (1 - RING_HOLE * RING_HOLE),
  },
  // diamond
  {
    inside: (u, v) => Math.abs(u) / DIAMOND_WIDTH + Math.abs(v) <= 1,
    extent: [DIAMOND_WIDTH, 1],
    area: 2 * DIAMOND_WIDTH,
  },
  // hexagon: regular, flat top, circumradius 1
  {
    inside: (u, v) => {
      const av = Math.abs(v);
      return av <= SQRT3 / 2 && SQRT3 * Math.abs(u) + av <= SQRT3;
    },
    extent: [1, SQRT3 / 2],
    area: (3 * SQRT3) / 2,
  },
  // moon: a crescent opening to the right
  {
    inside: (u, v) => {
      const x = u - MOON_SHIFT; // the crescent's disc is centred at u = MOON_SHIFT
      const dx = x - MOON_CUT_OFFSET;
      return x * x + v * v <= 1 && dx * dx + v * v >= MOON_CUT_R * MOON_CUT_R;
    },
    extent: [Math.max(1 - MOON_SHIFT, moonRightEdge() + MOON_SHIFT), 1],
    area: Math.PI - lensArea(1, MOON_CUT_R, MOON_CUT_OFFSET),
  },
];

/** u of the crescent's horns (where the two circles meet), before the shift: 0.61. */
function moonRightEdge(): number {
  return (1 - MOON_CUT_R * MOON_CUT_R + MOON_CUT_OFFSET * MOON_CUT_OFFSET) / (2 * MOON_CUT_OFFSET);
}
