-- test data: a visitor that changes nothing
function visit(obs, ctx) end
