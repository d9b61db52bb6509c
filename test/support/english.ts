/**
 * The English paragraph the fake provider streams for `text=english` (and
 * cycles through for `events=<n>`). Plain text, no tokenizer here, so tests
 * in any runtime can import it; its o200k token count is served by the fake
 * at `GET /p/__fixtures/english`.
 */
export const ENGLISH_TEXT = [
  "The old harbour town wakes slowly in winter. Before the first ferry leaves, the baker on the corner has already",
  "lit his ovens, and the smell of bread drifts down the narrow street toward the water. Fishermen check their nets",
  "under yellow lamps, trading quiet remarks about the wind and the price of diesel, while gulls circle the masts and",
  "wait for something to fall. By seven the school bus rattles over the cobbles, and children press their faces",
  "against the fogged windows, drawing shapes that vanish as soon as they are finished. The library opens at nine.",
  "Its keeper, a patient woman who has worked there for thirty years, unlocks the heavy door, switches on the radiators",
  "and sets out the newspapers in the same order every morning: local news first, then the national papers, then the",
  "magazines that nobody admits to reading. Visitors arrive in a steady trickle. A retired engineer comes to study",
  "tide tables he could recite from memory. A student spreads her notes across the long oak table and frowns at a",
  "problem in statistics, tapping her pencil against her teeth. Two friends argue in whispers about a novel, each",
  "convinced that the other has misunderstood the ending. Outside, the weather changes its mind every hour. Sunlight",
  "breaks through the clouds and turns the harbour silver, then a squall sweeps in from the west and rain hammers",
  "the roofs until the gutters overflow. Nobody seems to mind. People here measure time less by clocks than by",
  "routines: the arrival of the post, the ringing of the church bell at noon, the return of the boats in the late",
  "afternoon. When the boats come in, the whole town seems to lean toward the quay. Crates of fish are lifted onto",
  "the stones, weighed, counted and sold, and the auctioneer's voice rises and falls like a song whose words only",
  "the buyers understand. Numbers matter in that moment, because every kilogram is a small part of somebody's",
  "living, and a careless mistake can cost a family a week of work. Later, as the light fades, the cafes fill with",
  "tired people who want something warm to drink and someone to talk to. Conversations wander from the weather to",
  "politics to the football results, and back to the weather again. The lighthouse begins its slow rotation, sweeping",
  "a pale beam across the dark water, steady and reliable, the way it has for more than a century. Eventually the",
  "streets empty, the windows go dark one by one, and the only sound left is the sea, patiently counting the stones",
  "along the shore, as if it were keeping an account that will never quite be settled.",
].join(" ");
