// The HorizontalPodAutoscaler's replica computation, as the Kubernetes controller does it
// (pkg/controller/podautoscaler: replica_calculator.go, horizontal.go), for the autoscaling
// rehearsal: what an HPA with the manifests' targets and behaviour would ask for, given the
// metric it reads each sync period. Pure: the caller gives the time of every sync.
//
// Per sync: the metric's ratio to its target; within the tolerance (0.1 unless the behaviour
// sets one) the replicas stay, else desired = ceil(current x ratio). That raw recommendation is
// kept, then stabilised (up: the lowest recommendation of the scale-up window; down: the
// highest of the scale-down window), limited by the scaling policies' rates (pods or percent
// per period, from the replicas at the period's start, Max or Min of the policies), and held
// within minReplicas..maxReplicas.

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

export interface HpaSpec {
  readonly name: string;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  /** the metric's name and its target (per pod for AverageValue; as it is for Value) */
  readonly metric: string;
  readonly target: number;
  readonly targetType: 'AverageValue' | 'Value';
  readonly scaleUp: ScalingRules;
  readonly scaleDown: ScalingRules;
}

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

/**
 * The raw recommendation of one metric (replica_calculator.go): `value` is the pods' average
 * for AverageValue (the HPA's `Pods` metric), the one value for Value. Within the tolerance
 * of the target, `current` stays. Up and down have their own tolerance (autoscaling/v2).
 */
export function recommend(spec: Pick<HpaSpec, 'target' | 'scaleUp' | 'scaleDown'>, current: number, value: number): number {
  const ratio = value / spec.target;
  const tolerance = ratio > 1 ? spec.scaleUp.tolerance : spec.scaleDown.tolerance;
  if (Math.abs(1 - ratio) <= tolerance) return current;
  // In float64 as the controller computes it: exactly +10% (1.1000000000000001) is outside.
  return Math.ceil(ratio * current);
}

export interface SyncResult {
  /** seconds, as given */
  readonly at: number;
  /** the metric's value (per pod for AverageValue) and its ratio to the target */
  readonly value: number;
  readonly ratio: number;
  readonly current: number;
  /** before the behaviour: what the metric alone asks for */
  readonly recommended: number;
  /** after stabilisation, rate policies and min/max: the replicas the HPA sets */
  readonly desired: number;
  /** why desired differs from recommended, if it does */
  readonly limitedBy: 'scale-up window' | 'scale-down window' | 'scale-up policy' | 'scale-down policy' | 'minReplicas' | 'maxReplicas' | null;
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
   * One sync at `at` s with `current` replicas running and the metric at `value`. A current
   * outside min..max is brought inside first, as the controller does.
   */
  sync(at: number, current: number, value: number): SyncResult {
    const { spec } = this;
    const ratio = value / spec.target;
    if (current > spec.maxReplicas || current < spec.minReplicas) {
      const desired = Math.min(spec.maxReplicas, Math.max(spec.minReplicas, current));
      this.record(at, current, desired);
      return { at, value, ratio, current, recommended: current, desired, limitedBy: current > spec.maxReplicas ? 'maxReplicas' : 'minReplicas' };
    }
    const recommended = recommend(spec, current, value);
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
    return { at, value, ratio, current, recommended, desired, limitedBy };
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
