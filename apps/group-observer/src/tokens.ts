export const GROUP_OBSERVER = Symbol('GROUP_OBSERVER');
