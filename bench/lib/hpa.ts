// The HorizontalPodAutoscaler's replica computation, as the Kubernetes controller does it
// (pkg/controller/podautoscaler: replica_calculator.go, horizontal.go), for the autoscaling
// rehearsal: what an HPA with the manifests' targets and behaviour would ask for, given the
// metric it reads each sync period. Pure: the caller gives the time of every sync.
//
// Per sync, each metric's own ask: its values as the controller gets them (milli-units,
// truncated), the ratio of the pods' average (Pods) or of the value (External) to the target;
// within the tolerance (0.1 unless the behaviour sets one) the replicas stay, else
// ceil(ratio x pods reporting) (Pods; pods without a value are counted at the target or at 0,
// whichever holds the change back) or ceil(value / target) (External AverageValue). The
// largest ask is the raw recommendation; it is kept, then stabilised (up: the lowest
// recommendation of the scale-up window; down: the highest of the scale-down window), limited
// by the scaling policies' rates (pods or percent per period, from the replicas at the period's
// start, Max or Min of the policies), and held within minReplicas..maxReplicas.

export type SelectPolicy = 'Max' | 'Min' | 'Disabled';

export interface ScalingPolicy {
  readonly type: 'Pods' | 'Percent';
  readonly value: number;
  readonly periodSeconds: number;
}

export interface ScalingRules {
  readonly stabilizationWindowSeconds: number;
  readonly selectPolicy: SelectPolicy;
  readonly policies: readonly ScalingPolicy[];
  /** the ratio's dead band (autoscaling/v2 `tolerance`, else the controller's 0.1) */
  readonly tolerance: number;
}

/**
 * One metric of an HPA, with an AverageValue or Value target. `Pods`: a custom metric per pod
 * (prometheus-adapter's), averaged over the pods that report it. `External`: one value for
 * the whole target (KEDA's Prometheus trigger), divided by the replicas for AverageValue.
 */
export interface MetricSpec {
  /** Pods: the custom metric's name; External: the trigger's query */
  readonly name: string;
  readonly source: 'Pods' | 'External';
  readonly targetType: 'AverageValue' | 'Value';
  /** in the metric's unit: per pod for AverageValue, as it is for Value */
  readonly target: number;
}

export interface HpaSpec {
  readonly name: string;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  /** the controller computes replicas for each and takes the largest */
  readonly metrics: readonly MetricSpec[];
  readonly scaleUp: ScalingRules;
  readonly scaleDown: ScalingRules;
}

/**
 * What one metric read at a sync. Pods: one entry per running pod the HPA's selector finds,
 * null for a pod without a value (not scraped yet, its scrape failed: "missing"), and
 * `unready` pods still Pending (scheduled, pulling, starting), which the controller leaves out
 * and counts as 0 only to hold back a scale-up; missing pods are counted at the target when
 * the others would scale down and at 0 when they would scale up. External: the one value, null
 * when the query failed. Values in the metric's unit: they reach the controller in milli-units,
 * truncated, as prometheus-adapter and KEDA both send them (`resource.NewMilliQuantity(int64(v * 1000))`).
 */
export type MetricInput = { readonly pods: readonly (number | null)[]; readonly unready?: number } | { readonly external: number | null };

/** The controller's default tolerance (--horizontal-pod-autoscaler-tolerance). */
export const DEFAULT_TOLERANCE = 0.1;

/** autoscaling/v2's defaults for a behaviour the manifest leaves out (HPAScalingRules). */
export const DEFAULT_SCALE_UP: ScalingRules = {
  stabilizationWindowSeconds: 0,
  selectPolicy: 'Max',
  policies: [
    { type: 'Percent', value: 100, periodSeconds: 15 },
    { type: 'Pods', value: 4, periodSeconds: 15 },
  ],
  tolerance: DEFAULT_TOLERANCE,
};
export const DEFAULT_SCALE_DOWN: ScalingRules = {
  stabilizationWindowSeconds: 300,
  selectPolicy: 'Max',
  policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
  tolerance: DEFAULT_TOLERANCE,
};

/** A value as the controller receives it: milli-units, truncated toward zero (Go's int64(float64)). */
export function milli(v: number): number {
  return Math.trunc(v * 1000);
}

/** A target quantity's MilliValue (exact for the manifests' quantities). */
function targetMilli(target: number): number {
  return Math.round(target * 1000);
}

type Tolerances = Pick<HpaSpec, 'scaleUp' | 'scaleDown'>;

/**
 * Within the dead band: the up tolerance above 1, the down one below (autoscaling/v2). This is
 * the comparison of Kubernetes before 1.33, |1 - ratio| <= tolerance: a ratio of exactly
 * 1 + 0.1 (1.1000000000000001 in float64) is outside. 1.33's configurable tolerances compare
 * (1 - down) <= ratio <= (1 + up), where that edge is inside; only exact edges differ.
 */
function within(t: Tolerances, ratio: number): boolean {
  return Math.abs(1 - ratio) <= (ratio > 1 ? t.scaleUp.tolerance : t.scaleDown.tolerance);
}

/** GetMetricUsageRatio: the integer average of the milli-values over the target. */
function usageRatio(values: readonly number[], target: number): number {
  const total = values.reduce((a, b) => a + b, 0);
  return Math.trunc(total / values.length) / target;
}

export interface MetricResult {
  readonly name: string;
  /** Pods: the average over the pods that reported; External: the value (both in the metric's unit, after truncation to milli-units) */
  readonly value: number | null;
  /** the usage ratio the controller compared with its tolerance */
  readonly ratio: number | null;
  /** what this metric alone asks for; null when it could not be computed (no pod reported, the query failed) */
  readonly replicas: number | null;
  /** Pods: pods without a value */
  readonly missing: number;
}

/**
 * calcPlainMetricReplicas (replica_calculator.go) for a Pods metric with an AverageValue target:
 * the ratio of the reporting pods' average to the target; when every pod reported and none is
 * Pending, desired is ceil(ratio x reporting pods) outside the tolerance. Otherwise missing pods
 * are counted at the target when the others would scale down and at 0 when they would scale up
 * (neither at a ratio of exactly 1), Pending pods at 0 on a scale-up only, and the change is
 * dropped if that reverses its direction or brings it within the tolerance.
 */
export function podsReplicas(t: Tolerances, current: number, target: number, pods: readonly (number | null)[], unready = 0): MetricResult & { name: '' } {
  const goal = targetMilli(target);
  const values = pods.filter((v): v is number => v !== null && Number.isFinite(v)).map(milli);
  const missing = pods.length - values.length;
  if (values.length === 0) return { name: '', value: null, ratio: null, replicas: null, missing };
  const ratio = usageRatio(values, goal);
  const value = Math.trunc(values.reduce((a, b) => a + b, 0) / values.length) / 1000;
  const upWithUnready = unready > 0 && ratio > 1;
  if (!upWithUnready && missing === 0) {
    if (within(t, ratio)) return { name: '', value, ratio, replicas: current, missing };
    return { name: '', value, ratio, replicas: Math.ceil(ratio * values.length), missing };
  }
  const filled = [...values];
  if (missing > 0 && ratio < 1) filled.push(...Array<number>(missing).fill(goal));
  else if (missing > 0 && ratio > 1) filled.push(...Array<number>(missing).fill(0));
  if (upWithUnready) filled.push(...Array<number>(unready).fill(0));
  const newRatio = usageRatio(filled, goal);
  if (within(t, newRatio) || (ratio < 1 && newRatio > 1) || (ratio > 1 && newRatio < 1)) return { name: '', value, ratio, replicas: current, missing };
  const replicas = Math.ceil(newRatio * filled.length);
  if ((newRatio < 1 && replicas > current) || (newRatio > 1 && replicas < current)) return { name: '', value, ratio, replicas: current, missing };
  return { name: '', value, ratio, replicas, missing };
}

/**
 * GetExternalPerPodMetricReplicas (AverageValue): ceil(value / target) outside the tolerance of
 * value / (target x current); GetExternalMetricReplicas (Value): ceil(ratio x current). Upstream
 * divides by the pods the scale's status counts (AverageValue) and multiplies by the ready pods
 * (Value), not by the replicas asked for: the same once the pods are up, which is what the
 * rehearsal's `current` stands for (it leaves pod start-up to the Pods path).
 */
export function externalReplicas(t: Tolerances, current: number, spec: Pick<MetricSpec, 'target' | 'targetType'>, value: number | null): MetricResult & { name: '' } {
  if (value === null || !Number.isFinite(value)) return { name: '', value: null, ratio: null, replicas: null, missing: 0 };
  const usage = milli(value);
  const goal = targetMilli(spec.target);
  if (spec.targetType === 'AverageValue') {
    const ratio = usage / (goal * current);
    return { name: '', value: usage / 1000, ratio, replicas: within(t, ratio) ? current : Math.ceil(usage / goal), missing: 0 };
  }
  const ratio = usage / goal;
  return { name: '', value: usage / 1000, ratio, replicas: within(t, ratio) ? current : Math.ceil(ratio * current), missing: 0 };
}

/**
 * The raw recommendation of a single-metric HPA whose `current` pods all read `value` (the
 * unit tests' and the reader's shorthand): what the metric alone asks for.
 */
export function recommend(spec: Pick<HpaSpec, 'scaleUp' | 'scaleDown'> & { readonly target: number }, current: number, value: number): number {
  return podsReplicas(spec, current, spec.target, Array<number>(current).fill(value)).replicas!;
}

export interface SyncResult {
  /** seconds, as given */
  readonly at: number;
  /** each metric's reading and what it alone asks for, in the spec's order */
  readonly metrics: readonly MetricResult[];
  /** the metric that decided (the largest ask; the first on a tie), -1 when none could be computed */
  readonly decidedBy: number;
  /** the deciding metric's value and ratio (null: none) */
  readonly value: number | null;
  readonly ratio: number | null;
  readonly current: number;
  /** before the behaviour: what the metrics ask for (the largest) */
  readonly recommended: number;
  /** after stabilisation, rate policies and min/max: the replicas the HPA sets */
  readonly desired: number;
  /** why desired differs from recommended, if it does */
  readonly limitedBy: 'scale-up window' | 'scale-down window' | 'scale-up policy' | 'scale-down policy' | 'minReplicas' | 'maxReplicas' | 'metrics missing' | null;
}

interface Timed {
  readonly at: number;
  readonly n: number;
}

/** One HPA over time: call sync() once per sync period with the time and the metric. */
export class Autoscaler {
  private readonly recommendations: Timed[] = [];
  private readonly ups: Timed[] = [];
  private readonly downs: Timed[] = [];

  constructor(readonly spec: HpaSpec) {}

  /**
   * One sync at `at` s with `current` replicas (the scale's spec) and what each metric read, in
   * the spec's order (a number: every one of the `current` pods of a single Pods metric reads
   * it). A current outside min..max is brought inside first, as the controller does. When every
   * metric failed, or some failed and the others would scale down, nothing changes (the
   * controller returns before it stores a recommendation).
   */
  sync(at: number, current: number, readings: number | readonly MetricInput[]): SyncResult {
    const { spec } = this;
    const inputs: readonly MetricInput[] = typeof readings === 'number' ? [{ pods: Array<number>(current).fill(readings) }] : readings;
    if (inputs.length !== spec.metrics.length) throw new Error(`${spec.name}: ${inputs.length} readings for ${spec.metrics.length} metrics`);
    const metrics = spec.metrics.map((m, i): MetricResult => {
      const input = inputs[i]!;
      const r = 'pods' in input ? podsReplicas(spec, current, m.target, input.pods, input.unready ?? 0) : externalReplicas(spec, current, m, input.external);
      return { ...r, name: m.name };
    });
    let decidedBy = -1;
    metrics.forEach((r, i) => {
      if (r.replicas !== null && (decidedBy < 0 || r.replicas > metrics[decidedBy]!.replicas!)) decidedBy = i;
    });
    const decided = decidedBy >= 0 ? metrics[decidedBy]! : null;
    const base = { at, metrics, decidedBy, value: decided?.value ?? null, ratio: decided?.ratio ?? null, current };
    if (current > spec.maxReplicas || current < spec.minReplicas) {
      const desired = Math.min(spec.maxReplicas, Math.max(spec.minReplicas, current));
      this.record(at, current, desired);
      return { ...base, recommended: current, desired, limitedBy: current > spec.maxReplicas ? 'maxReplicas' : 'minReplicas' };
    }
    const invalid = metrics.filter((r) => r.replicas === null).length;
    if (decided === null || (invalid > 0 && decided.replicas! < current)) return { ...base, recommended: current, desired: current, limitedBy: 'metrics missing' };
    const recommended = decided.replicas!;
    let limitedBy: SyncResult['limitedBy'] = null;
    // Stabilisation (horizontal.go stabilizeRecommendationWithBehaviors): the recommendation
    // is kept before it is read, so a window of 0 holds only this one.
    this.recommendations.push({ at, n: recommended });
    let up = recommended;
    let down = recommended;
    for (const r of this.recommendations) {
      if (r.at > at - spec.scaleUp.stabilizationWindowSeconds) up = Math.min(up, r.n);
      if (r.at > at - spec.scaleDown.stabilizationWindowSeconds) down = Math.max(down, r.n);
    }
    const keep = Math.max(spec.scaleUp.stabilizationWindowSeconds, spec.scaleDown.stabilizationWindowSeconds);
    while (this.recommendations.length > 0 && this.recommendations[0]!.at <= at - keep) this.recommendations.shift();
    let desired = Math.min(Math.max(current, up), down);
    if (desired !== recommended) limitedBy = recommended > current ? 'scale-up window' : 'scale-down window';
    // Rates (convertDesiredReplicasWithBehaviorRate) and min/max.
    if (desired > current) {
      const allowed = Math.min(spec.maxReplicas, Math.max(current, this.upLimit(at, current)));
      if (desired > allowed) {
        limitedBy = allowed === spec.maxReplicas ? 'maxReplicas' : 'scale-up policy';
        desired = allowed;
      }
    } else if (desired < current) {
      const allowed = Math.max(spec.minReplicas, Math.min(current, this.downLimit(at, current)));
      if (desired < allowed) {
        limitedBy = allowed === spec.minReplicas ? 'minReplicas' : 'scale-down policy';
        desired = allowed;
      }
    }
    this.record(at, current, desired);
    return { ...base, recommended, desired, limitedBy };
  }


  private record(at: number, current: number, desired: number): void {
    if (desired > current) this.ups.push({ at, n: desired - current });
    if (desired < current) this.downs.push({ at, n: current - desired });
  }

  /** Replicas added (or removed) within the last `period` s. */
  private changed(events: readonly Timed[], at: number, period: number): number {
    return events.filter((e) => e.at > at - period).reduce((n, e) => n + e.n, 0);
  }

  private upLimit(at: number, current: number): number {
    const rules = this.spec.scaleUp;
    if (rules.selectPolicy === 'Disabled') return current;
    const proposals = rules.policies.map((p) => {
      const start = current - this.changed(this.ups, at, p.periodSeconds) + this.changed(this.downs, at, p.periodSeconds);
      return p.type === 'Pods' ? start + p.value : Math.ceil(start * (1 + p.value / 100));
    });
    return rules.selectPolicy === 'Min' ? Math.min(...proposals) : Math.max(...proposals);
  }

  private downLimit(at: number, current: number): number {
    const rules = this.spec.scaleDown;
    if (rules.selectPolicy === 'Disabled') return current;
    const proposals = rules.policies.map((p) => {
      const start = current - this.changed(this.ups, at, p.periodSeconds) + this.changed(this.downs, at, p.periodSeconds);
      return p.type === 'Pods' ? start - p.value : Math.trunc(start * (1 - p.value / 100));
    });
    // For scaling down the smallest change is the highest count.
    return rules.selectPolicy === 'Min' ? Math.max(...proposals) : Math.min(...proposals);
  }
}
