// Shape (a) for k6: each iteration is one GET of the target, 50 VUs, as long as bench/run says.
import http from "k6/http";

export const options = {
  vus: 50,
  duration: `${__ENV.BENCH_DURATION}s`,
  discardResponseBodies: true,
  // No thresholds, no per-request output: the summary export is all bench/run reads.
  summaryTrendStats: ["avg", "p(95)"],
};

export default function () {
  http.get(__ENV.BENCH_URL);
}
