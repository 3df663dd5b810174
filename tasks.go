package miroir

// TODO(core): cluster tasks (DESIGN §6).

// TaskStore keeps cluster tasks. TODO(core): define.
type TaskStore interface{}

type taskManager struct{ c *Cluster }

func newTaskManager(c *Cluster) *taskManager { return &taskManager{c: c} }
