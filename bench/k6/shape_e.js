// Shape (e) for k6: an open model, k6's constant-arrival-rate executor. Each iteration is one
// GET; BENCH_RATE iterations start a second whatever the target's speed, on at most
// BENCH_MAX_VUS VUs (the same cap as mite-rs's max_journeys); iterations it cannot start are
// counted as dropped_iterations.
import http from "k6/http";

export const options = {
  discardResponseBodies: true,
  summaryTrendStats: ["avg", "p(95)"],
  scenarios: {
    open: {
      executor: "constant-arrival-rate",
      rate: Number(__ENV.BENCH_RATE),
      timeUnit: "1s",
      duration: `${__ENV.BENCH_DURATION}s`,
      preAllocatedVUs: 100,
      maxVUs: Number(__ENV.BENCH_MAX_VUS),
    },
  },
};

export default function () {
  http.get(__ENV.BENCH_URL);
}
