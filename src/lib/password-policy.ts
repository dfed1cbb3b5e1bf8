/**
 * Password strength rules, with Django's messages (the web client shows them verbatim):
 * at least 8 characters, not entirely numeric, not a common password, not similar to the
 * username or email.
 */

const MIN_LENGTH = 8;

/** The most common passwords of public breach corpora (lower-case), plus local favourites. */
const COMMON_PASSWORDS = new Set(
  `123456 123456789 12345678 password qwerty123 qwerty 1q2w3e4r 111111 123123 1234567890
  1234567 password1 12345 000000 iloveyou dragon monkey abc123 qwertyuiop 123321 654321
  666666 121212 football baseball letmein master sunshine princess welcome shadow ashley
  michael superman batman trustno1 passw0rd password123 admin admin123 administrator root
  login starwars whatever freedom charlie donald loveme hello hello123 zaq12wsx qazwsx
  1qaz2wsx asdfghjk asdfghjkl zxcvbnm zxcvbnm123 q1w2e3r4 q1w2e3r4t5 11111111 88888888
  87654321 12341234 11223344 00000000 99999999 55555555 abcd1234 aa123456 a1b2c3d4
  changeme secret123 welcome1 welcome123 iloveyou1 jennifer jordan23 liverpool arsenal
  chelsea manchester mustang maggie buster pepper ginger hunter2 hunter soccer hockey
  computer internet samsung google apple123 nairobi kenya123 kenya2024 mombasa jesus123
  blessed godisgood ticketsafi tickets ticket123 mpesa123 safaricom football1 password12
  pass1234 passpass letmein1 qwerty12 qwerty1234 asdf1234 zxcv1234 1q2w3e4r5t 1qazxsw2
  trustno11 baseball1 dragon123 monkey123 sunshine1 princess1 master123 shadow123`
    .split(/\s+/)
    .filter(Boolean),
);

/** Ratio of matching characters (Ratcliff/Obershelp, as Python's SequenceMatcher). */
function similarity(a: string, b: string): number {
  if (!a.length || !b.length) return 0;
  const matches = (x: string, y: string): number => {
    let best = 0;
    let bestX = 0;
    let bestY = 0;
    for (let i = 0; i < x.length; i++) {
      for (let j = 0; j < y.length; j++) {
        let k = 0;
        while (i + k < x.length && j + k < y.length && x[i + k] === y[j + k]) k++;
        if (k > best) {
          best = k;
          bestX = i;
          bestY = j;
        }
      }
    }
    if (best === 0) return 0;
    return (
      best +
      matches(x.slice(0, bestX), y.slice(0, bestY)) +
      matches(x.slice(bestX + best), y.slice(bestY + best))
    );
  };
  return (2 * matches(a, b)) / (a.length + b.length);
}

const MAX_SIMILARITY = 0.7;

interface PasswordContext {
  username?: string | null;
  email?: string | null;
}

/** The problems with a password, as messages; empty when it is acceptable. */
export function passwordProblems(password: string, context: PasswordContext = {}): string[] {
  const problems: string[] = [];
  const lower = password.toLowerCase();

  const attributes: Array<[string, string | null | undefined]> = [
    ["username", context.username],
    ["email address", context.email],
    ["email address", context.email?.split("@")[0]],
  ];
  for (const [label, value] of attributes) {
    const attr = (value ?? "").toLowerCase();
    if (attr.length < 3) continue;
    // Only compare passwords of sane length: the matcher is quadratic.
    if (
      lower.includes(attr) ||
      attr.includes(lower) ||
      (lower.length <= 128 && similarity(lower, attr) >= MAX_SIMILARITY)
    ) {
      problems.push(`The password is too similar to the ${label}.`);
      break;
    }
  }
  if (password.length < MIN_LENGTH) {
    problems.push(`This password is too short. It must contain at least ${MIN_LENGTH} characters.`);
  }
  if (COMMON_PASSWORDS.has(lower.trim())) problems.push("This password is too common.");
  if (/^\d+$/.test(password)) problems.push("This password is entirely numeric.");
  return problems;
}
