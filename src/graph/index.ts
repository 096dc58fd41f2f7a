// Graph surgery shared by the transforms (prune, merge, grow, kmeans): dependency groups from
// the ops' channel rules, thinning, rewiring. Imports ir/ and ops/ only.
export { matchAttention } from './attention.js';
export type { AttentionMatch } from './attention.js';
export { channelRules, recurrentChannels } from './channel-rules.js';
export { dependencyGroups } from './dependency.js';
export type { GroupMember, InputRewrite, PruneGroup } from './dependency.js';
export { followFlattenReshapes, gatherAxis, removeDeadNodes, thinChannels } from './thin.js';
