/**
 * Admission: which queued nodes of a new deployment may boot now.
 *
 * `waves[k]` lists the node ids admitted in wave k. The skeleton admits every node at once
 * (wave 0); a policy (wave size, per-rack limits, DHCP/TFTP head-room) plugs in here, and the
 * nodes of later waves simply stay `queued` until a later call admits them.
 */
export interface AdmissionPlan {
  waves: string[][];
}

export function planAdmission(nodeIds: readonly string[]): AdmissionPlan {
  return { waves: nodeIds.length === 0 ? [] : [[...nodeIds]] };
}

/** The wave of each node in `plan` (undefined: stays queued). */
export function waveOf(plan: AdmissionPlan): Map<string, number> {
  const m = new Map<string, number>();
  plan.waves.forEach((ids, k) => ids.forEach((id) => m.set(id, k)));
  return m;
}
