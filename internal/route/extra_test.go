package route

import "testing"

func TestStripField(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"_miroir_shard":3,"id":1}`, `{"id":1}`},
		{`{"id":1,"_miroir_shard":3}`, `{"id":1}`},
		{`{"id":1,"_miroir_shard":3,"a":[1,{"_miroir_shard":2}]}`, `{"id":1,"a":[1,{"_miroir_shard":2}]}`},
		{`{"_miroir_shard":3}`, `{}`},
		{` { "_miroir_shard" : 3 , "id" : 1 } `, ` { "id" : 1 } `},
		{`{"id":1}`, `{"id":1}`},
		{`{}`, `{}`},
		{`{"a":1,"_miroir_shard":1,"_miroir_shard":2,"b":2}`, `{"a":1,"b":2}`},
		{`{"_miroir_shard":1,"_miroir_shard":2,"b":2}`, `{"b":2}`},
		{`{"_miroir\u005fshard":1,"b":2}`, `{"b":2}`},
		{`not json`, `not json`},
	} {
		if got := string(StripField([]byte(c.in), ShardField)); got != c.want {
			t.Errorf("StripField(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}
